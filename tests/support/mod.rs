//! Helpers shared by the integration tests.
//!
//! Every test binary compiles this module with `mod support;` but uses only
//! part of it, so unused-item warnings here would be noise.
#![allow(dead_code)]

pub mod big_estate;
pub mod emulator;
pub mod fault_proxy;
