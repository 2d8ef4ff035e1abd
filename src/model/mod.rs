//! The data types of the pipeline: validated names, desired state, and the
//! names derived from it.

pub mod derive;
pub mod desired;
pub mod expiry;
pub mod names;
