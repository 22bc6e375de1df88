//! The checks run on the loaded configuration: its top-level structure, removed and
//! deprecated syntax, the walk that hands templates and references to their checkers, and
//! the files HA never loads.

pub mod files;
pub mod legacy;
pub mod structure;
pub mod walk;
