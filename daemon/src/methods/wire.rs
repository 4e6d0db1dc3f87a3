//! The one conversion of the layers' errors to the wire error.
//!
//! `license::Refusal` (a rule said no) and `store::StoreError` (storage failed) know nothing
//! of error numbers or HTTP; here each becomes a [`MethodError`] with its code from the one
//! table in `crate::errors`.

use crate::errors::{ErrorCode, MethodError};
use crate::license::refusal::{Reason, Refusal};

/// The wire code of each kind of refusal.
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
