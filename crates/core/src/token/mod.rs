//! Token strings: minting and parsing. Opaque tokens in [`opaque`], signed JWTs in
//! [`jwt`], the realm keys that sign them in [`keys`].

pub mod jwt;
pub mod keys;
pub mod opaque;

/// A fresh time-ordered token id (UUIDv7): the primary key of the token's row, so
/// inserts append to the end of the index instead of landing on random pages.
pub fn new_token_id() -> [u8; 16] {
    *uuid::Uuid::now_v7().as_bytes()
}

pub fn token_id_hex(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).simple().to_string()
}

pub fn parse_token_id_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| *u.as_bytes())
}
