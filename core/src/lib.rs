//! The pure core of gobench: everything that can be decided without running
//! a process, touching the network or reading the clock.
//!
//! Architecture invariant: nothing in this crate spawns a process, opens a
//! socket, reads the clock or touches the file system outside tests. The
//! `xtask` crate is the shell that does those things and feeds the results in.

pub mod aa;
pub mod analysis;
pub mod bisect;
pub mod config;
pub mod containerfile;
pub mod detect;
pub mod document;
pub mod fsyncprobe;
#[cfg(test)]
mod golden;
pub mod goversion;
pub mod hash;
pub mod hostload;
pub mod hosts;
pub mod job;
pub mod ledger;
pub mod lock;
pub mod merge;
pub mod parse;
pub mod plan;
pub mod recipe;
pub mod refname;
pub mod reproduce;
pub mod results;
pub mod schedule;
pub mod schema;
pub mod servermetrics;
pub mod shard;
pub mod spec;
pub mod stats;
pub mod webhook;
