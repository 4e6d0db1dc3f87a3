//! The one table of error codes a client can see.
//!
//! Every failure a handler reports goes through [`MethodError`], whose [`ErrorCode`] carries
//! QLM's `EServerErrorCode` number (spec README §5) and the HTTP status it travels with. Each
//! code is one row of `error_codes!`: number, QLM name, HTTP status and doc line, so the
//! enum, its lookups and `docs/errors.md` cannot drift apart (as meilisearch-types' table).

use http::StatusCode;

/// Generates [`ErrorCode`] and its lookups from one row per code:
/// `Variant = number, "QLM name", HTTP status constant, "doc line";`.
/// The doc line is the variant's doc comment and the "meaning" column of `docs/errors.md`.
macro_rules! error_codes {
    ($($variant:ident = $number:literal, $name:literal, $status:ident, $doc:literal;)+) => {
        /// The error codes licd answers with, numbered as QLM's `EServerErrorCode`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $doc]
                $variant,
            )+
        }

        impl ErrorCode {
            /// Every code, in the order `docs/errors.md` lists them.
            pub const ALL: [ErrorCode; [$($name),+].len()] = [$(ErrorCode::$variant),+];

            /// The number sent in `<errorCode>`.
            pub const fn number(self) -> u32 {
                match self {
                    $(ErrorCode::$variant => $number,)+
                }
            }

            /// QLM's name for the code, used in logs, metrics labels and `docs/errors.md`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }

            /// The HTTP status a reply with this code travels with. Business errors are 200
            /// because QLM clients read the body, not the status; a transport refusal
            /// overrides it with [`MethodError::with_status`] or [`MethodError::busy`].
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }

            /// One line saying when the code is answered, as `docs/errors.md` gives it.
            pub const fn doc(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $doc,)+
                }
            }
        }
    };
}

error_codes! {
    IpRestriction = 3, "RequestBlocked_IpRestriction", OK,
        "The caller's address is blocked, or not allowed to call an admin method.";
    InvalidFormat = 5, "RequestBlocked_InvalidFormat", OK,
        "An argument is malformed, duplicated, oversized or out of range, or the method is \
         unknown.";
    OperationDisabled = 7, "RequestBlocked_OperationDisabled", OK,
        "The method's enable property is off.";
    AuthenticationError = 8, "RequestBlocked_AuthenticationError", OK,
        "The vendor is unknown or disabled, the credentials are wrong, or a plugin denied the \
         request.";
    LicenseError = 200, "License_Error", OK,
        "A licence rule refused the request.";
    LicenseRevoked = 201, "License_Revoked", OK,
        "The licence is revoked.";
    LicenseNotFound = 203, "License_NotFound", OK,
        "No licence has this activation key.";
    MissingArgument = 208, "License_MissingArgument", OK,
        "A required argument is missing.";
    LicenseExpired = 209, "License_Expired", OK,
        "The licence or its subscription has expired.";
    NoMoreActivations = 210, "License_NoMoreActivations", OK,
        "Every activation of the key is in use.";
    WrongVersion = 211, "License_ActivationKeyForWrongVersion", OK,
        "The key is for another major or minor version.";
    ExceededMaxReleases = 212, "License_ExceededMaxReleases", OK,
        "The licence has reached its release limit.";
    ReleaseNotActivated = 216, "License_Release_NotActivated", OK,
        "A release asks for a key that is not activated on any computer.";
    ReleaseActivatedOnAnotherSystem = 217, "License_Release_ActivatedOnAnotherSystem", OK,
        "A release names a computer the key is not activated on.";
    ProductNotFound = 218, "License_ProductNotFound", OK,
        "The product id and version are not defined in the configuration.";
    WrongProduct = 220, "License_ActivationKeyForWrongProduct", OK,
        "The key belongs to another product.";
    WrongDeactivationCode = 224, "License_WrongDeactivationVerificationCode", OK,
        "The deactivation verification code is not one of those expected.";
    ComputerKeyMismatch = 225, "License_ComputerKeyMismatch", OK,
        "The client's computer key differs and the server requires a match.";
    ReleaseFailedOfflineUsage = 228, "License_Release_Failed_OfflineUsage", OK,
        "The licence is checked out for offline use until a later date.";
    CustomerExists = 1901, "Customer_Exists", OK,
        "A customer with this e-mail exists already and may not be changed, or another customer has the new e-mail.";
    CustomerNotFound = 1904, "Customer_NotFound", OK,
        "No customer has the e-mail named (is_previousemail).";
    ProductPropertiesError = 2200, "ProductProperties_Error", OK,
        "A product property value has the wrong type or syntax.";
    ProductPropertiesNotFound = 2201, "ProductProperties_NotFound", OK,
        "A product property is not defined for the product.";
    UnknownError = 3000, "UnknownError", OK,
        "An internal failure (storage, or a timeout before the change was applied).";
}

/// The one message of every failed vendor authentication (code 8): it never says which part
/// was wrong. Here rather than in `auth/` because a replayed change refused after the fact
/// answers with it too (`Ctx::execute`).
pub const AUTHENTICATION_FAILED: &str =
    "Authentication failed: check the vendor name, user and password.";

/// A refusal with the code and the sentence the client reads in `<error>`.
///
/// `status` starts as the code's status in the table (200 for business errors: QLM clients
/// read the body); transport-level refusals (unknown method 404, full queue 503) carry their
/// own HTTP status with the same envelope.
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
    /// An error with the code's HTTP status from the table.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MethodError {
            code,
            message: message.into(),
            status: code.status(),
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
            retry_after: Some(1),
            ..Self::internal(message).with_status(StatusCode::SERVICE_UNAVAILABLE)
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
    fn docs_errors_md_lists_every_code_with_its_name_status_and_doc_line() {
        let doc = include_str!("../../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | {} |", code.number(), code.name());
            assert!(doc.contains(&row), "docs/errors.md lacks the row for {row}");
            let line = doc
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_default();
            let cells: Vec<&str> = line.split(" | ").collect();
            // The HTTP cell may go on to list transport overrides: "200 (404 unknown method, …)".
            let http = cells.get(2).copied().unwrap_or_default();
            assert!(
                http.starts_with(code.status().as_str()),
                "docs/errors.md gives HTTP '{http}' for {row}; the table says {}",
                code.status().as_str()
            );
            assert_eq!(
                cells.get(3).copied(),
                Some(code.doc()),
                "docs/errors.md's meaning for {row} is not the table's doc line"
            );
        }
    }

    #[test]
    fn an_error_travels_with_its_codes_status_and_busy_is_503_with_retry_after() {
        for code in ErrorCode::ALL {
            assert_eq!(MethodError::new(code, "m").status, code.status());
        }
        let busy = MethodError::busy("m");
        assert_eq!(busy.code, ErrorCode::UnknownError);
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after, Some(1));
    }
}
