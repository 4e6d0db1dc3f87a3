//! Method lists name effects, not spellings (spec methods.md, Addresses, security issue).
//!
//! `httpAdminMethods`, `strictAuthenticationHttpMethods` and a vendor's `methods` list QLM
//! method names, but several methods have the same effect: with `GetActivationKey` admin-only,
//! `GetActivationKeyWithExpiryDate` created keys from a foreign address, and with
//! `RevokeLicenseHttp` admin-only, `UpdateLicenseHttp?is_revoke=true` revoked. So naming one
//! member of a row of [`Effect::members`] names the whole row, and a request is named by a list
//! when the list names its method or a row the request belongs to.
//!
//! Activation is a public client action and has no row: `ActivateKey` and
//! `ValidateLicenseHttp` stay separate names.

use crate::http::args::Args;
use crate::methods::Method;

/// What a request does, as the lists see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// New licence keys.
    Create,
    /// Revoking (or restoring) a licence.
    Revoke,
    /// Extending a subscription.
    Renew,
    /// The maintenance plan.
    Maintenance,
    /// Releasing an activation.
    Release,
}

impl Effect {
    /// Every row, in the order docs/security.md lists them.
    pub const ALL: [Effect; 5] = [
        Effect::Create,
        Effect::Revoke,
        Effect::Renew,
        Effect::Maintenance,
        Effect::Release,
    ];

    /// The method names a list may use for this row: naming any of them names the row.
    pub const fn members(self) -> &'static [Method] {
        match self {
            Effect::Create => &[
                Method::GetActivationKey,
                Method::GetActivationKeyWithExpiryDate,
            ],
            Effect::Revoke => &[Method::RevokeLicenseHttp],
            Effect::Renew => &[Method::RenewSubscriptionHttp],
            Effect::Maintenance => &[Method::EnableMaintenancePlan, Method::RenewMaintenancePlan],
            Effect::Release => &[Method::ReleaseLicenseHttp],
        }
    }

    /// The rows a request belongs to: its method's, and those its arguments add
    /// (`UpdateLicenseHttp` with `is_revoke` revokes, `RenewSubscriptionHttp` with
    /// `is_maintenance_plan` renews the maintenance plan too).
    pub fn of(method: Method, args: &Args) -> impl Iterator<Item = Effect> {
        let given = |name: &str| args.get(name).is_some_and(|v| !v.is_empty());
        // Worked out without allocating: this runs several times on every request.
        let by_argument = [
            (method == Method::UpdateLicenseHttp && given("is_revoke")).then_some(Effect::Revoke),
            (method == Method::RenewSubscriptionHttp && given("is_maintenance_plan"))
                .then_some(Effect::Maintenance),
        ];
        Effect::ALL
            .into_iter()
            .filter(move |e| e.members().contains(&method))
            .chain(by_argument.into_iter().flatten())
    }
}

/// Whether `list` (QLM method names, any case) names this request: its method by name, or a
/// member of a row the request belongs to.
pub fn names(list: &[String], method: Method, args: &Args) -> bool {
    let listed = |m: Method| list.iter().any(|n| n.eq_ignore_ascii_case(m.name()));
    listed(method) || Effect::of(method, args).any(|e| e.members().iter().copied().any(listed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::args::ArgLimits;

    const LIMITS: ArgLimits = ArgLimits {
        max_args: 64,
        max_value_bytes: 4096,
    };

    fn args(query: &str) -> Args {
        Args::parse(Some(query), None, LIMITS).expect("valid arguments")
    }

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_string()).collect()
    }

    #[test]
    fn naming_one_creator_names_both() {
        let none = args("");
        for named in ["GetActivationKey", "getactivationkeywithexpirydate"] {
            let l = list(&[named]);
            assert!(names(&l, Method::GetActivationKey, &none), "{named}");
            assert!(
                names(&l, Method::GetActivationKeyWithExpiryDate, &none),
                "{named}"
            );
        }
    }

    #[test]
    fn revoking_through_update_license_is_named_by_revoke_license() {
        let l = list(&["RevokeLicenseHttp"]);
        assert!(names(
            &l,
            Method::UpdateLicenseHttp,
            &args("is_revoke=true")
        ));
        assert!(names(
            &l,
            Method::UpdateLicenseHttp,
            &args("is_revoke=false")
        ));
        assert!(!names(
            &l,
            Method::UpdateLicenseHttp,
            &args("is_features=0:1")
        ));
        assert!(!names(&l, Method::UpdateLicenseHttp, &args("is_revoke=")));
    }

    #[test]
    fn renewing_the_maintenance_plan_through_renew_subscription_is_named_by_either_plan_method() {
        let with_plan = args("is_maintenance_plan=true");
        for named in ["EnableMaintenancePlan", "RenewMaintenancePlan"] {
            let l = list(&[named]);
            assert!(
                names(&l, Method::RenewSubscriptionHttp, &with_plan),
                "{named}"
            );
            assert!(
                !names(&l, Method::RenewSubscriptionHttp, &args("")),
                "{named}"
            );
            assert!(
                names(&l, Method::EnableMaintenancePlan, &args("")),
                "{named}"
            );
            assert!(
                names(&l, Method::RenewMaintenancePlan, &args("")),
                "{named}"
            );
        }
        let l = list(&["RenewSubscriptionHttp"]);
        assert!(names(&l, Method::RenewSubscriptionHttp, &with_plan));
        assert!(!names(&l, Method::EnableMaintenancePlan, &args("")));
    }

    #[test]
    fn activation_has_no_row() {
        let l = list(&["ValidateLicenseHttp"]);
        assert!(names(&l, Method::ValidateLicenseHttp, &args("")));
        assert!(!names(&l, Method::ActivateKey, &args("")));
        assert!(!names(
            &list(&["ActivateKey"]),
            Method::ValidateLicenseHttp,
            &args("")
        ));
    }

    #[test]
    fn a_list_naming_nothing_of_the_row_does_not_name_it() {
        let l = list(&["UpdateLicenseHttp", "ReleaseLicenseHttp"]);
        assert!(!names(&l, Method::RevokeLicenseHttp, &args("")));
        assert!(!names(&l, Method::GetActivationKey, &args("")));
        assert!(names(
            &l,
            Method::UpdateLicenseHttp,
            &args("is_revoke=true")
        ));
        assert!(!names(&[], Method::PingHttp, &args("")));
    }
}
