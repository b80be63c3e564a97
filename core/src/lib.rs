//! Pure core.
pub mod parse;
