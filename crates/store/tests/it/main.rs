//! The conformance suite: every case runs once on SQLite and once on PostgreSQL, each
//! time on a database of its own, and the store cases once more on an in-memory SQLite
//! database (which goes through the same code as a file).

mod admin_tokens;
mod at_rest;
mod audit;
mod backend;
mod batch_plans;
mod clients;
mod connect;
mod fixtures;
mod grants;
mod harness;
mod hot_reads;
mod keys;
mod orgs;
mod purge;
mod realms;
mod sessions;
mod sign_in_failures;
mod tokens;
mod users;

/// For each `module::case`, `sqlite::case`, `sqlite_memory::case` and `postgres::case`
/// tests (`url:` cases not in memory: they connect by themselves). A case is an
/// `async fn(Arc<dyn Store>)`, or an `async fn(String)` taking the database URL when
/// it must connect by itself (listed under `url:`).
macro_rules! conformance {
    (store: [$($m:ident :: $case:ident),* $(,)?], url: [$($um:ident :: $ucase:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::sqlite(|url| async move {
                        crate::$m::$case(crate::harness::open(&url).await).await
                    })
                    .await
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $ucase() {
                    crate::harness::sqlite(crate::$um::$ucase).await
                }
            )*
        }

        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::$m::$case(crate::harness::open("sqlite::memory:").await).await
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::harness::postgres(stringify!($case), |url| async move {
                        crate::$m::$case(crate::harness::open(&url).await).await
                    })
                    .await
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $ucase() {
                    crate::harness::postgres(stringify!($ucase), crate::$um::$ucase).await
                }
            )*
        }
    };
}

conformance! {
    store: [
        backend::pepper_is_kept_on_first_write,
        backend::settings_are_kept_or_replaced_as_asked,
        backend::ping_answers,
        backend::hostile_strings_round_trip,
        backend::list_items_round_trip_exactly,
        backend::load_and_table_sizes_name_pools_queues_and_tables,
        realms::realm_crud,
        realms::duplicate_realm_is_conflict,
        realms::create_realm_is_atomic,
        realms::missing_realm_update_and_delete_are_not_found,
        realms::deleting_a_realm_cascades_to_clients_keys_and_tokens,
        keys::rotate_signing_key_retires_old_key_until_verify_until,
        keys::rotation_leaves_retired_keys_alone,
        keys::rotation_never_extends_verify_until,
        keys::rotating_in_a_missing_realm_is_not_found,
        keys::concurrent_key_listings_get_their_own_realm_at_their_own_instant,
        clients::client_crud,
        clients::duplicate_client_is_conflict_within_realm_only,
        clients::client_is_invisible_from_another_realm,
        clients::find_client_prefers_id_over_name,
        clients::missing_client_update_delete_and_rotate_are_not_found,
        clients::deleting_a_client_removes_its_tokens,
        clients::rotate_client_secret_keeps_tokens_when_not_asked,
        clients::rotate_client_secret_revokes_live_tokens,
        tokens::token_round_trips_every_field,
        tokens::token_reports_client_disabled,
        tokens::revoke_token_returns_true_once,
        tokens::concurrent_revocations_have_one_winner,
        tokens::token_for_unknown_client_is_refused,
        tokens::duplicate_token_id_is_conflict,
        tokens::concurrent_inserts_each_get_their_own_outcome,
        tokens::conditional_insert_follows_the_client_revision,
        tokens::concurrent_conditional_inserts_each_get_their_own_outcome,
        tokens::token_is_read_with_a_client_revision,
        tokens::concurrent_revocations_each_get_their_own_answer,
        tokens::concurrent_reads_each_get_their_own_answer,
        users::user_crud,
        users::usernames_are_unique_case_insensitively,
        users::find_user_prefers_id_over_username,
        users::user_is_invisible_from_another_realm,
        users::missing_user_update_password_and_delete_are_not_found,
        users::set_user_password_revokes_the_users_grants,
        users::delete_user_removes_everything_of_theirs,
        users::password_disable_and_delete_end_the_users_sessions,
        users::token_reports_its_user,
        grants::grant_round_trips_with_its_tokens,
        grants::create_grant_is_atomic,
        grants::insert_tokens_stores_all_or_nothing,
        grants::list_grants_filters_newest_first,
        grants::revoke_grant_revokes_the_family,
        grants::create_grant_with_code_consumes_the_request,
        grants::redeem_code_once_then_replay_revokes_the_grant,
        grants::concurrent_redemptions_have_one_winner,
        grants::rotation_spends_the_old_token_and_stores_the_new,
        grants::reuse_stores_nothing_and_revokes_the_grant,
        grants::concurrent_rotations_have_one_winner,
        grants::rotation_grace_period,
        grants::concurrent_rotations_within_grace_all_get_tokens,
        sessions::session_round_trips_until_it_expires,
        sessions::authorization_request_round_trips_until_it_expires,
        sessions::concurrent_request_deletions_have_one_winner,
        sessions::consent_is_saved_and_replaced,
        sessions::deleting_a_client_removes_its_grants_consents_and_requests,
        sessions::deleting_a_realm_removes_its_users_and_sessions,
        sign_in_failures::failures_are_reserved_up_to_the_limit_per_window,
        sign_in_failures::a_refused_reservation_writes_nothing,
        sign_in_failures::a_release_takes_back_one_failure_of_its_window,
        sign_in_failures::unlocking_clears_an_account_from_every_address,
        sign_in_failures::a_concurrent_burst_never_passes_the_limit,
        purge::purge_deletes_expired_tokens_and_keeps_the_rest,
        purge::purge_deletes_a_grant_only_when_nothing_names_it,
        purge::purge_deletes_expired_sessions_requests_and_counters,
        purge::purge_deletes_at_most_a_batch_per_table_per_call,
        purge::pending_requests_keep_the_newest_per_session,
        purge::pending_requests_are_capped_per_address,
        admin_tokens::admin_token_round_trips_and_lists_in_creation_order,
        admin_tokens::duplicate_admin_token_id_is_conflict,
        admin_tokens::admin_token_of_a_missing_realm_is_refused,
        admin_tokens::revoke_admin_token_returns_true_once,
        admin_tokens::deleting_a_realm_removes_its_admin_tokens,
        orgs::app_and_key_round_trip,
        orgs::concurrent_key_reads_each_get_their_own_key,
        orgs::reset_revokes_exactly_the_apps_keys_and_grants,
        orgs::revoking_a_key_revokes_its_customer_grants_only,
        orgs::last_use_is_recorded_and_never_moves_back,
        orgs::deleting_an_app_removes_its_client_keys_and_tokens,
        orgs::permissions_take_the_lowest_free_bit,
        orgs::concurrent_permission_listings_each_get_their_realms,
        orgs::a_realm_holds_at_least_64_permissions_and_concurrent_creations_differ,
        orgs::roles_map_to_existing_permissions,
        orgs::an_app_is_renamed_through_its_client,
        orgs::a_live_keys_name_scope_and_permissions_change_and_nothing_else,
        audit::audit_events_round_trip_every_field_in_id_order,
        audit::audit_listing_filters_by_kind_and_time_and_pages_by_cursor,
        audit::server_events_are_listed_apart_from_realms,
        audit::an_audit_batch_is_stored_whole_or_not_at_all,
        audit::a_large_audit_batch_is_stored_row_for_row_and_whole,
        audit::audit_events_outlive_their_realm,
        audit::audit_purge_deletes_old_events_a_batch_at_a_time,
        audit::concurrent_audit_batches_all_land,
    ],
    url: [
        backend::migrations_are_idempotent,
        backend::concurrent_connects_migrate_once,
        backend::rows_from_before_0002_keep_working,
        at_rest::sealed_secrets_are_never_in_the_clear_and_open_only_under_their_key,
        at_rest::clear_secrets_are_sealed_on_the_first_start_with_a_master_key,
        at_rest::rewrap_moves_every_secret_to_the_new_key,
        hot_reads::reads_follow_every_change_made_by_another_instance,
        hot_reads::the_purge_leaves_the_epoch_alone,
    ],
}
