//! The one integration-test binary: runs the real `xtask` binary against
//! projects made in temporary directories, with real git repositories.

mod analysis;
mod bench;
mod bisect;
mod build;
mod etcd_cell;
mod go_module;
mod horreum;
mod hosts;
mod noise;
mod pins;
mod pipeline;
mod reproduce;
mod serve;
mod serve_measured;
mod shard;
mod signals;
mod support;
mod tidy;
mod upload;
