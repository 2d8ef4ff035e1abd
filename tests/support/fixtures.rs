//! The estates several suites start from, written once. Each piece is
//! a macro expanding to a string literal, so that a suite's own estate stays
//! a `const` built with `concat!` (which takes literals, not constants) and
//! what differs for its tests stands next to them.

/// The jump account (`JUMP`) and the payments project with its production
/// account: the head of the small estates.
macro_rules! payments_head {
    () => {
        r#"
jump-account id="123456789012" region="ap-northeast-1"
project "payments" {
    account "payments-prod" id="210987654321"
}
"#
    };
}
pub(crate) use payments_head;

/// The smallest estate: `payments_head!` and yamada.taro, the admin.
macro_rules! small_estate {
    () => {
        concat!(
            $crate::support::fixtures::payments_head!(),
            r#"user "yamada.taro" {
    access "admin"
}
"#
        )
    };
}
pub(crate) use small_estate;

/// The jump account as the management account of an organization, and
/// three accounts declared by e-mail for jumpgate to create: `sandbox`, and
/// `dev` and `prod` in project `apps`. `me` is the admin, `dev.person` a
/// developer in `apps`.
macro_rules! new_accounts {
    () => {
        r#"
jump-account id="123456789012" region="ap-northeast-1" name="management"
organization
account "sandbox" email="me+aws-sandbox@example.com"
project "apps" {
    account "dev"  email="me+aws-dev@example.com"
    account "prod" email="me+aws-prod@example.com"
}
user "me" {
    access "admin"
}
user "dev.person" {
    access "developer" project="apps"
}
"#
    };
}
pub(crate) use new_accounts;
