//! jumpgate: the IAM of a multi-account AWS estate, kept in Git.
//!
//! The pipeline: `lang` (KDL text → `model::desired::DesiredState`) →
//! `observe` (live AWS → `live::LiveState`) → `plan` (pure diff → `Plan`) →
//! `render` (text, JSON, Markdown) and `apply` (run a `Plan`). Only `aws`
//! talks to AWS. See ARCHITECTURE.md.

pub mod access;
pub mod apply;
pub mod aws;
pub mod cfn_template;
pub mod credential_report;
pub mod drift;
pub mod hygiene;
pub mod import;
pub mod lang;
pub mod live;
pub mod lock;
pub mod model;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod profiles;
pub mod render;
pub mod secrets;
pub mod templates;
