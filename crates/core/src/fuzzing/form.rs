//! `application/x-www-form-urlencoded` bodies (`urlencoded`, `params`) and the
//! `Authorization: Basic` header (`client_auth::presented`).

use crate::client_auth::{PresentedClient, basic_header_value, presented};
use crate::params::{MAX_PARAMS, Params};
use crate::urlencoded::{parse_form, parse_pairs};

/// A body is either refused with `invalid_request` or decoded into at most
/// `MAX_PARAMS` pairs free of NUL that the `url` crate's decoder reads the same way
/// and that survive a round trip through its encoder; `parse_form` refuses exactly the
/// bodies that repeat a name.
pub fn check_form(data: &[u8]) {
    let form = parse_form(data);
    let pairs = match parse_pairs(data) {
        Ok(pairs) => pairs,
        Err(e) => {
            assert_eq!(e.code.as_str(), "invalid_request", "{}", e.description());
            assert!(form.is_err(), "parse_form accepted what parse_pairs refused");
            return;
        }
    };
    assert!(pairs.len() <= MAX_PARAMS);
    for (name, value) in &pairs {
        assert!(!name.contains('\0') && !value.contains('\0'), "a NUL got through: {name:?}={value:?}");
    }
    let theirs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    assert_eq!(theirs, pairs, "the url crate decodes this body differently");
    let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    assert_eq!(parse_pairs(encoded.as_bytes()).expect("our own encoding decodes"), pairs);

    let mut names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let repeats = names.windows(2).any(|w| w[0] == w[1]);
    match form {
        Ok(params) => {
            assert!(!repeats, "a repeated parameter was accepted");
            for (name, value) in &pairs {
                let expected = (!value.is_empty()).then_some(value.as_str());
                assert_eq!(params.get(name), expected, "{name}");
            }
        }
        Err(e) => {
            assert!(repeats, "refused without a repeat: {}", e.description());
            assert_eq!(e.code.as_str(), "invalid_request");
        }
    }
}

/// The fuzzer's bytes up to the first `\n` are the `Authorization` header, the rest a
/// form body. Accepted credentials are Basic ones with a non-empty client id that
/// agrees with the body's, with no secret in the body, that encode back to the same
/// credentials; a refusal is `invalid_client` or `invalid_request`.
pub fn check_basic_auth(data: &[u8]) {
    let (header, body) = super::split_two(data);
    let params = parse_form(body).unwrap_or_default();
    check_without_header(&params);
    match presented(Some(header), &params) {
        Ok(PresentedClient::Basic { client_id, secret }) => {
            assert!(!client_id.is_empty());
            assert!(params.get("client_secret").is_none(), "two authentication methods at once");
            assert!(params.get("client_id").is_none_or(|id| id == client_id));
            let again = basic_header_value(&client_id, &secret);
            let reparsed = presented(Some(again.as_bytes()), &params).expect("our own header parses");
            assert_eq!(reparsed, PresentedClient::Basic { client_id, secret });
        }
        Ok(other) => panic!("a header was read as {other:?}"),
        Err(e) => {
            let code = e.code.as_str();
            assert!(code == "invalid_client" || code == "invalid_request", "{code}");
        }
    }
}

fn check_without_header(params: &Params) {
    let id = params.get("client_id");
    let secret = params.get("client_secret");
    match presented(None, params) {
        Ok(PresentedClient::Post { client_id, secret: s }) => {
            assert_eq!((Some(client_id.as_str()), Some(s.as_str())), (id, secret));
        }
        Ok(PresentedClient::Public { client_id }) => assert_eq!((Some(client_id.as_str()), secret), (id, None)),
        Ok(PresentedClient::Anonymous) => assert_eq!((id, secret), (None, None)),
        Ok(PresentedClient::Basic { .. }) => panic!("Basic credentials without a header"),
        Err(e) => {
            assert_eq!(e.code.as_str(), "invalid_request");
            assert!(id.is_none() && secret.is_some());
        }
    }
}
