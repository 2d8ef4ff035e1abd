//! The one harness every integration suite uses (`mod support;`): see
//! `README.md` beside this file.
//!
//! Every test binary compiles this module but uses only part of it, so
//! unused-item warnings here would be noise.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod big_estate;
pub mod by_hand;
pub mod emulator;
pub mod fault_proxy;
pub mod figures;
pub mod fixtures;
pub mod live;
pub mod python;
pub mod runner;
pub mod workspace;

pub use emulator::{Emulator, EmulatorOptions};
pub use figures::figure;
pub use live::*;
pub use runner::{Jumpgate, Outcome, jumpgate, jumpgate_with_env};
pub use workspace::Workspace;
