//! The small estate several suites start from, written once. Each piece is
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
