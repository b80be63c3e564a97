//! Pure core.

pub mod detect;
pub mod stats;
