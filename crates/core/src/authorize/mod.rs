//! The authorization endpoint and the browser flow behind it: request validation in
//! [`request`], sessions, sign-in, consent and issuing in [`flow`].

pub mod flow;
pub mod request;
