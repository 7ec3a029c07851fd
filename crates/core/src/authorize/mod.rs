//! The authorization endpoint and the browser flow behind it: request validation in
//! [`request`], sessions, sign-in, consent and issuing in [`flow`], and the bounds on
//! what an anonymous browser can make the server store in [`limits`].

pub mod flow;
pub mod limits;
pub mod request;
