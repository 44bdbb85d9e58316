//! The one integration-test binary: real processes of the `claimwatch` binary, real HTTP servers
//! on 127.0.0.1 started by the tests, real sled stores in temporary directories. Nothing here
//! reaches beyond the loopback interface.

mod admin;
mod alerts;
mod channels;
mod claims;
mod cli;
mod crash;
mod extract;
mod hostile;
mod ledger;
mod listen;
mod ops;
mod poll;
mod support;
