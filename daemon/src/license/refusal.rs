//! Why a licence rule said no, in the domain's words.
//!
//! Rules in this module tree and the store's commands refuse with a [`Refusal`]; they know
//! nothing of error numbers or HTTP. `crate::methods::wire` turns a refusal into the wire
//! error (`<errorCode>`, HTTP status) in one place, from one table of codes.

/// Declares [`Reason`] and [`Reason::ALL`] from one list, so a reason added later is walked by
/// every test that checks all of them (`methods::wire` proves each has its own code).
macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident,)+) => {
        /// The kind of a refusal: what the client did or what the licence forbids.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)+
        }

        impl Reason {
            /// Every reason, in the order declared.
            pub const ALL: [Reason; [$(Reason::$variant),+].len()] = [$(Reason::$variant),+];
        }
    };
}

reasons! {
    /// A value that is not well formed (a feature list, a date, a property).
    Invalid,
    /// Something the rule needs was not given.
    Missing,
    /// A licence rule refused the request (limits, models, states).
    Rule,
    /// The licence is revoked.
    Revoked,
    /// No licence (or subscription) answers to what was given.
    NotFound,
    /// The licence or its subscription has expired.
    Expired,
    /// Every seat of the licence is in use.
    NoSeatsLeft,
    /// The key is for another major or minor version.
    WrongVersion,
    /// The release limit is reached.
    TooManyReleases,
    /// A release of a key or computer that is not activated.
    NotActivated,
    /// A release for a computer the key is not activated on.
    ActivatedElsewhere,
    /// The product id and version are not defined.
    ProductNotFound,
    /// The key belongs to another product.
    WrongProduct,
    /// The deactivation code is not one of those expected.
    WrongDeactivationCode,
    /// The client's computer key differs and the server requires a match.
    ComputerKeyMismatch,
    /// The licence is checked out for offline use until a later date.
    CheckedOutOffline,
    /// A product property value has the wrong type or syntax.
    BadProperty,
    /// A product property is not defined for the product.
    UnknownProperty,
    /// The licence belongs to another vendor than the one asking (a vendor with
    /// `scope = "own"`).
    OtherVendor,
    /// A customer with this e-mail exists already (and may not be changed, or another has it).
    CustomerExists,
    /// No customer has the e-mail named.
    CustomerNotFound,
}

/// A rule's refusal: its kind and the sentence the client reads (what was wrong, what to do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The kind, which decides the code on the wire.
    pub reason: Reason,
    /// What was wrong and what to do.
    pub message: String,
    /// QLM `status` flags the reply carries with the error (a revoked licence's reply
    /// tells its state).
    pub status_flags: Option<u32>,
}

impl Refusal {
    /// A refusal of kind `reason`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Refusal {
            reason,
            message: message.into(),
            status_flags: None,
        }
    }

    /// A licence rule refused the request.
    pub fn rule(message: impl Into<String>) -> Self {
        Self::new(Reason::Rule, message)
    }

    /// A value that is not well formed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, message)
    }

    /// A required argument is missing; the message names it.
    pub fn missing(argument: &str) -> Self {
        Self::new(
            Reason::Missing,
            format!("The argument {argument} is required."),
        )
    }

    /// The same refusal carrying QLM `status` flags, so the reply still tells the licence's
    /// state.
    pub fn with_status_flags(mut self, flags: u32) -> Self {
        self.status_flags = Some(flags);
        self
    }

    /// No licence has this activation key.
    pub fn key_not_found() -> Self {
        Self::new(
            Reason::NotFound,
            "No licence has this activation key; check the key.",
        )
    }
}
