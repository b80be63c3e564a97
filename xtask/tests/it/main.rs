//! The one integration-test binary: runs the real `xtask` binary against
//! projects made in temporary directories, with real git repositories.

mod analysis;
mod etcd_cell;
mod pins;
mod support;
