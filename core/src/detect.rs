//! Change detection.
