//! The one conversion of the layers' errors to the wire error.
//!
//! `license::Refusal` (a rule said no) and `store::StoreError` (storage failed) know nothing
//! of error numbers or HTTP; here each becomes a [`MethodError`] with its code from the one
//! table in `crate::errors`.

use crate::errors::{ErrorCode, MethodError};
use crate::license::refusal::{Reason, Refusal};

/// The wire code of each kind of refusal: one arm per reason, each its own code (the tests
/// below prove that none is shared, none is a guard or internal code, and only another
/// vendor's licence is answered as a failed authentication).
pub const fn code_of(reason: Reason) -> ErrorCode {
    match reason {
        Reason::Invalid => ErrorCode::InvalidFormat,
        Reason::Missing => ErrorCode::MissingArgument,
        Reason::Rule => ErrorCode::LicenseError,
        Reason::Revoked => ErrorCode::LicenseRevoked,
        Reason::NotFound => ErrorCode::LicenseNotFound,
        Reason::Expired => ErrorCode::LicenseExpired,
        Reason::NoSeatsLeft => ErrorCode::NoMoreActivations,
        Reason::WrongVersion => ErrorCode::WrongVersion,
        Reason::TooManyReleases => ErrorCode::ExceededMaxReleases,
        Reason::NotActivated => ErrorCode::ReleaseNotActivated,
        Reason::ActivatedElsewhere => ErrorCode::ReleaseActivatedOnAnotherSystem,
        Reason::ProductNotFound => ErrorCode::ProductNotFound,
        Reason::WrongProduct => ErrorCode::WrongProduct,
        Reason::WrongDeactivationCode => ErrorCode::WrongDeactivationCode,
        Reason::ComputerKeyMismatch => ErrorCode::ComputerKeyMismatch,
        Reason::CheckedOutOffline => ErrorCode::ReleaseFailedOfflineUsage,
        Reason::BadProperty => ErrorCode::ProductPropertiesError,
        Reason::UnknownProperty => ErrorCode::ProductPropertiesNotFound,
        Reason::OtherVendor => ErrorCode::AuthenticationError,
        Reason::CustomerExists => ErrorCode::CustomerExists,
        Reason::CustomerNotFound => ErrorCode::CustomerNotFound,
    }
}

impl From<Refusal> for MethodError {
    fn from(r: Refusal) -> Self {
        let mut e = MethodError::new(code_of(r.reason), r.message);
        e.status_flags = r.status_flags;
        e
    }
}

impl From<crate::store::StoreError> for MethodError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match e {
            E::Unavailable => MethodError::busy(
                "The database is being reopened; nothing was changed. Retry shortly.",
            ),
            E::Unreachable(why) => {
                tracing::warn!(error = %why, "the database does not answer");
                MethodError::busy(
                    "The database does not answer; nothing was changed. Retry shortly.",
                )
            }
            E::OutcomeUnknown => MethodError::internal(
                "The connection to the database broke while the change was committed: outcome unknown; repeating the same request is safe.",
            ),
            E::Busy => MethodError::busy(
                "The server is busy (write queue full); nothing was changed. Retry shortly.",
            ),
            E::NotStored => MethodError::internal(
                "The server could not store the change; nothing was changed. Retry later.",
            ),
            E::TooLate => MethodError::internal(
                "The request timed out before the server could apply it; nothing was changed.",
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                MethodError::internal("An internal storage error occurred; nothing was changed.")
            }
        }
    }
}

impl From<crate::store::CommandError> for MethodError {
    fn from(e: crate::store::CommandError) -> Self {
        match e {
            crate::store::CommandError::Refused(r) => r.into(),
            crate::store::CommandError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use http::StatusCode;

    use super::*;
    use crate::license::{STATUS_EXPIRED, STATUS_REVOKED};
    use crate::response::{Format, render_error};

    /// Codes only the guard and the store answer with: a licence rule refusing with one of
    /// them would blame the client's address, a switched-off method or the server.
    const NOT_A_RULE_CODE: [ErrorCode; 3] = [
        ErrorCode::IpRestriction,
        ErrorCode::OperationDisabled,
        ErrorCode::UnknownError,
    ];

    #[test]
    fn every_reason_has_its_own_business_code_and_none_is_a_guard_or_internal_code() {
        let mut reason_of_code: HashMap<ErrorCode, Reason> = HashMap::new();
        for reason in Reason::ALL {
            let code = code_of(reason);
            if let Some(other) = reason_of_code.insert(code, reason) {
                panic!(
                    "{reason:?} and {other:?} share code {} ({})",
                    code.number(),
                    code.name()
                );
            }
            assert!(
                !NOT_A_RULE_CODE.contains(&code),
                "{reason:?} maps to {}, which is not a rule's refusal",
                code.name()
            );
            if code == ErrorCode::AuthenticationError {
                assert_eq!(
                    reason,
                    Reason::OtherVendor,
                    "only another vendor's licence answers as a failed authentication"
                );
            }
            assert_eq!(
                code.status(),
                StatusCode::OK,
                "{reason:?}: a rule's refusal travels with HTTP 200"
            );
        }
    }

    #[test]
    fn a_refusal_keeps_its_message_and_status_flags_on_the_wire() {
        let flags = STATUS_REVOKED | STATUS_EXPIRED;
        let refusal = Refusal::new(Reason::Revoked, "This licence has been revoked.")
            .with_status_flags(flags);
        let e = MethodError::from(refusal);
        assert_eq!(e.code, ErrorCode::LicenseRevoked);
        assert_eq!(e.message, "This licence has been revoked.");
        assert_eq!(e.status, StatusCode::OK);
        assert_eq!(e.status_flags, Some(flags));
        let body = render_error(&e, Format::Xml, false);
        let xml = String::from_utf8_lossy(&body.bytes);
        assert!(xml.contains(&format!("<status>{flags}</status>")), "{xml}");
        assert!(xml.contains("<errorCode>201</errorCode>"), "{xml}");
    }

    #[test]
    fn a_refusal_without_status_flags_sends_none() {
        let e = MethodError::from(Refusal::key_not_found());
        assert_eq!(e.code, ErrorCode::LicenseNotFound);
        assert_eq!(e.status_flags, None);
        let body = render_error(&e, Format::Xml, false);
        assert!(!String::from_utf8_lossy(&body.bytes).contains("<status>"));
    }
}
