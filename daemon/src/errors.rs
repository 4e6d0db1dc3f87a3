//! The one table of error codes a client can see.
//!
//! Every failure a handler reports goes through [`MethodError`], whose [`ErrorCode`] carries
//! QLM's `EServerErrorCode` number (spec README §5) and the HTTP status it travels with. Keeping
//! the table in one place is what keeps `<errorCode>` stable and `docs/errors.md` true.

use http::StatusCode;

/// The error codes licd answers with, numbered as QLM's `EServerErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Caller's address blocked, or not allowed for an admin method.
    IpRestriction,
    /// Malformed, duplicate, oversized or out-of-range argument; unknown method.
    InvalidFormat,
    /// The method's enable property is off.
    OperationDisabled,
    /// Vendor unknown or disabled, wrong credentials, plugin denied.
    AuthenticationError,
    /// A licence rule refused the request.
    LicenseError,
    /// The licence is revoked.
    LicenseRevoked,
    /// No licence with this key.
    LicenseNotFound,
    /// A required argument is missing.
    MissingArgument,
    /// The licence or subscription has expired.
    LicenseExpired,
    /// Every activation of the key is in use.
    NoMoreActivations,
    /// Key is for another major/minor version.
    WrongVersion,
    /// Release limit reached.
    ExceededMaxReleases,
    /// Release of a key or computer that is not activated.
    ReleaseNotActivated,
    /// Release for a computer the key is not activated on.
    ReleaseActivatedOnAnotherSystem,
    /// Product id / version not defined in the configuration.
    ProductNotFound,
    /// Key belongs to another product.
    WrongProduct,
    /// Deactivation verification code missing from the expected set.
    WrongDeactivationCode,
    /// Client's computer key differs and the server requires a match.
    ComputerKeyMismatch,
    /// Licence checked out for offline use until a later date.
    ReleaseFailedOfflineUsage,
    /// Product-property value has the wrong type or syntax.
    ProductPropertiesError,
    /// Product property not defined for the product.
    ProductPropertiesNotFound,
    /// An internal failure (storage, timeout before the change was applied).
    UnknownError,
}

impl ErrorCode {
    /// Every code, in the order `docs/errors.md` lists them.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::IpRestriction,
        ErrorCode::InvalidFormat,
        ErrorCode::OperationDisabled,
        ErrorCode::AuthenticationError,
        ErrorCode::LicenseError,
        ErrorCode::LicenseRevoked,
        ErrorCode::LicenseNotFound,
        ErrorCode::MissingArgument,
        ErrorCode::LicenseExpired,
        ErrorCode::NoMoreActivations,
        ErrorCode::WrongVersion,
        ErrorCode::ExceededMaxReleases,
        ErrorCode::ReleaseNotActivated,
        ErrorCode::ReleaseActivatedOnAnotherSystem,
        ErrorCode::ProductNotFound,
        ErrorCode::WrongProduct,
        ErrorCode::WrongDeactivationCode,
        ErrorCode::ComputerKeyMismatch,
        ErrorCode::ReleaseFailedOfflineUsage,
        ErrorCode::ProductPropertiesError,
        ErrorCode::ProductPropertiesNotFound,
        ErrorCode::UnknownError,
    ];

    /// The number sent in `<errorCode>`.
    pub const fn number(self) -> u32 {
        match self {
            ErrorCode::IpRestriction => 3,
            ErrorCode::InvalidFormat => 5,
            ErrorCode::OperationDisabled => 7,
            ErrorCode::AuthenticationError => 8,
            ErrorCode::LicenseError => 200,
            ErrorCode::LicenseRevoked => 201,
            ErrorCode::LicenseNotFound => 203,
            ErrorCode::MissingArgument => 208,
            ErrorCode::LicenseExpired => 209,
            ErrorCode::NoMoreActivations => 210,
            ErrorCode::WrongVersion => 211,
            ErrorCode::ExceededMaxReleases => 212,
            ErrorCode::ReleaseNotActivated => 216,
            ErrorCode::ReleaseActivatedOnAnotherSystem => 217,
            ErrorCode::ProductNotFound => 218,
            ErrorCode::WrongProduct => 220,
            ErrorCode::WrongDeactivationCode => 224,
            ErrorCode::ComputerKeyMismatch => 225,
            ErrorCode::ReleaseFailedOfflineUsage => 228,
            ErrorCode::ProductPropertiesError => 2200,
            ErrorCode::ProductPropertiesNotFound => 2201,
            ErrorCode::UnknownError => 3000,
        }
    }

    /// QLM's name for the code, used in logs, metrics labels and `docs/errors.md`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::IpRestriction => "RequestBlocked_IpRestriction",
            ErrorCode::InvalidFormat => "RequestBlocked_InvalidFormat",
            ErrorCode::OperationDisabled => "RequestBlocked_OperationDisabled",
            ErrorCode::AuthenticationError => "RequestBlocked_AuthenticationError",
            ErrorCode::LicenseError => "License_Error",
            ErrorCode::LicenseRevoked => "License_Revoked",
            ErrorCode::LicenseNotFound => "License_NotFound",
            ErrorCode::MissingArgument => "License_MissingArgument",
            ErrorCode::LicenseExpired => "License_Expired",
            ErrorCode::NoMoreActivations => "License_NoMoreActivations",
            ErrorCode::WrongVersion => "License_ActivationKeyForWrongVersion",
            ErrorCode::ExceededMaxReleases => "License_ExceededMaxReleases",
            ErrorCode::ReleaseNotActivated => "License_Release_NotActivated",
            ErrorCode::ReleaseActivatedOnAnotherSystem => {
                "License_Release_ActivatedOnAnotherSystem"
            }
            ErrorCode::ProductNotFound => "License_ProductNotFound",
            ErrorCode::WrongProduct => "License_ActivationKeyForWrongProduct",
            ErrorCode::WrongDeactivationCode => "License_WrongDeactivationVerificationCode",
            ErrorCode::ComputerKeyMismatch => "License_ComputerKeyMismatch",
            ErrorCode::ReleaseFailedOfflineUsage => "License_Release_Failed_OfflineUsage",
            ErrorCode::ProductPropertiesError => "ProductProperties_Error",
            ErrorCode::ProductPropertiesNotFound => "ProductProperties_NotFound",
            ErrorCode::UnknownError => "UnknownError",
        }
    }
}

/// A refusal with the code and the sentence the client reads in `<error>`.
///
/// `status` is 200 for business errors (QLM clients read the body); transport-level refusals
/// (unknown method 404, full queue 503) carry their own HTTP status with the same envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {})", code.number())]
pub struct MethodError {
    /// The code sent in `<errorCode>`.
    pub code: ErrorCode,
    /// The sentence sent in `<error>`: what was wrong and what to do.
    pub message: String,
    /// The HTTP status the reply travels with.
    pub status: StatusCode,
    /// Seconds for a `Retry-After` header (503 replies).
    pub retry_after: Option<u32>,
    /// QLM `status` flags sent with the error (a revoked licence's reply carries them).
    pub status_flags: Option<u32>,
}

impl MethodError {
    /// A business error: HTTP 200 with the error envelope.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MethodError {
            code,
            message: message.into(),
            status: StatusCode::OK,
            retry_after: None,
            status_flags: None,
        }
    }

    /// The same error sent with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Code 5: a malformed, duplicate, oversized or out-of-range argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidFormat, message)
    }

    /// Code 208: a required argument is missing; the message names it.
    pub fn missing(argument: &str) -> Self {
        Self::new(
            ErrorCode::MissingArgument,
            format!("The argument {argument} is required."),
        )
    }

    /// Code 200: a licence rule refused the request.
    pub fn rule(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::LicenseError, message)
    }

    /// Code 3000: an internal failure; the detail goes to the log, not to the client.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnknownError, message)
    }

    /// HTTP 503 with `Retry-After`: the server is busy; nothing was changed.
    pub fn busy(message: impl Into<String>) -> Self {
        MethodError {
            code: ErrorCode::UnknownError,
            message: message.into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(1),
            status_flags: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_number_and_name() {
        let mut numbers: Vec<u32> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), ErrorCode::ALL.len());
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn docs_errors_md_lists_every_code_with_its_name() {
        let doc = include_str!("../../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | {} |", code.number(), code.name());
            assert!(doc.contains(&row), "docs/errors.md lacks the row for {row}");
        }
    }
}
