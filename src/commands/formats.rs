//! The `--format` values of the command line. The library's format enums
//! know nothing of argument parsing (`clap` is the binary's dependency);
//! these mirror them, with the help text each value shows, and convert.

use clap::ValueEnum;

/// `plan --format` and `drift --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like, for a terminal or a log.
    Text,
    /// The plan as data; also the saved-plan file format of `apply --plan`.
    Json,
    /// A pull-request comment.
    Markdown,
}

impl From<PlanFormat> for jumpgate::render::Format {
    fn from(format: PlanFormat) -> Self {
        match format {
            PlanFormat::Text => Self::Text,
            PlanFormat::Json => Self::Json,
            PlanFormat::Markdown => Self::Markdown,
        }
    }
}

/// `profiles --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfilesFormat {
    /// A `~/.aws/config` fragment (needs --user).
    AwsConfig,
    /// The AWS Extend Switch Roles browser extension's configuration.
    SwitchRoles,
    /// Console switch-role URLs, one per line after the profile name.
    Links,
}

impl From<ProfilesFormat> for jumpgate::render::profiles::Format {
    fn from(format: ProfilesFormat) -> Self {
        match format {
            ProfilesFormat::AwsConfig => Self::AwsConfig,
            ProfilesFormat::SwitchRoles => Self::SwitchRoles,
            ProfilesFormat::Links => Self::Links,
        }
    }
}

/// `access --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessFormat {
    Text,
    Csv,
    Json,
    Markdown,
}

impl From<AccessFormat> for jumpgate::render::access::Format {
    fn from(format: AccessFormat) -> Self {
        match format {
            AccessFormat::Text => Self::Text,
            AccessFormat::Csv => Self::Csv,
            AccessFormat::Json => Self::Json,
            AccessFormat::Markdown => Self::Markdown,
        }
    }
}

/// `validate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProblemFormat {
    /// `file:line:column: error: message` with a source excerpt.
    Text,
    /// GitHub Actions workflow commands (`::error file=…,line=…`): each
    /// problem is an annotation on the pull request's line.
    Github,
    /// GitLab Code Quality JSON, for `artifacts:reports:codequality`.
    Gitlab,
}

impl From<ProblemFormat> for jumpgate::lang::ProblemFormat {
    fn from(format: ProblemFormat) -> Self {
        match format {
            ProblemFormat::Text => Self::Text,
            ProblemFormat::Github => Self::Github,
            ProblemFormat::Gitlab => Self::Gitlab,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_formats_parse_from_the_command_line() {
        assert_eq!(
            PlanFormat::from_str("markdown", false),
            Ok(PlanFormat::Markdown)
        );
        let names: Vec<String> = PlanFormat::value_variants()
            .iter()
            .map(|f| f.to_possible_value().unwrap().get_name().to_owned())
            .collect();
        assert_eq!(names, ["text", "json", "markdown"]);
    }
}
