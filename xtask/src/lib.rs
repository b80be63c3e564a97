//! The shell around `gobench-core`, as a library: the commands of
//! `cargo xtask` (one module each) and the pipeline steps they combine, so
//! that tests and the job service call the steps directly.

pub mod aa_file;
pub mod bench;
pub mod bisect;
pub mod build;
pub mod cancel;
pub mod compare;
pub mod demo;
pub mod detect;
pub mod detect_power;
pub mod doctor;
pub mod export;
pub mod filelock;
pub mod flags;
pub mod gen;
pub mod git;
pub mod host;
pub mod hosts;
pub mod lock;
pub mod merge;
pub mod modules;
pub mod monitor;
pub mod noise;
pub mod noise_report;
pub mod paths;
pub mod pipeline;
pub mod plan;
pub mod podman;
pub mod pool;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod select;
pub mod serve;
pub mod settle;
pub mod upload;
