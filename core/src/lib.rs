//! Pure core.
pub mod ledger;
