//! The router's SOAP actions as one typed list: each knows its name, whether it may be asked
//! again on a new connection, and what its UPnP error codes mean. No other file compares codes.

use crate::error::Error;

/// Declares the action list once: the enum, its SOAP names and the list of all of them.
macro_rules! soap_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every SOAP action portopen sends.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum SoapAction {
            $($variant,)*
        }

        impl SoapAction {
            const ALL: &'static [SoapAction] = &[$(SoapAction::$variant,)*];

            /// The action's name on the wire (SOAPAction header, body element).
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(SoapAction::$variant => $name,)*
                }
            }
        }
    };
}

soap_actions! {
    GetExternalIpAddress => "GetExternalIPAddress",
    GetStatusInfo => "GetStatusInfo",
    AddPortMapping => "AddPortMapping",
    AddAnyPortMapping => "AddAnyPortMapping",
    DeletePortMapping => "DeletePortMapping",
    DeletePortMappingRange => "DeletePortMappingRange",
    GetSpecificPortMappingEntry => "GetSpecificPortMappingEntry",
    GetGenericPortMappingEntry => "GetGenericPortMappingEntry",
    GetListOfPortMappings => "GetListOfPortMappings",
    GetFirewallStatus => "GetFirewallStatus",
    GetOutboundPinholeTimeout => "GetOutboundPinholeTimeout",
    AddPinhole => "AddPinhole",
    UpdatePinhole => "UpdatePinhole",
    DeletePinhole => "DeletePinhole",
    GetPinholePackets => "GetPinholePackets",
    CheckPinholeWorking => "CheckPinholeWorking",
}

/// What a UPnP error code means for the action that got it: the only reading the rest of the
/// library acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The entry is not (or no longer) on the router: a delete has nothing left to do, a
    /// renewal must add it again.
    Gone,
    /// Maybe gone, maybe a real failure: 501 Action Failed to UpdatePinhole or DeletePinhole is
    /// what miniupnpd 2.3.3 and later answer for a UniqueID they do not hold, and what any
    /// router answers when the action really failed. The caller finds out (see `route_upnp`).
    MaybeGone,
    /// Another host holds this external port (718).
    Taken,
    /// The router accepts only permanent leases (725; 402 on an add with a finite lease).
    OnlyPermanent,
    /// The router forbids this action for this host (606).
    NotAuthorized,
    /// The router has no free port mappings (728).
    NoPorts,
    /// The router does not implement this (optional) action (401, 602).
    NotImplemented,
    /// The router's IPv6 firewall is off: nothing needs opening (702).
    FirewallDisabled,
    /// The router refuses inbound pinholes until the user enables them (703).
    PinholesNotAllowed,
    /// Any other refusal: a failure, reported as it came.
    Other,
}

impl SoapAction {
    pub(crate) fn from_name(name: &str) -> Option<SoapAction> {
        SoapAction::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// True when asking twice with the same arguments leaves the router as asking once: reads,
    /// deletes (the second answers "no such entry"), UpdatePinhole, and AddPortMapping (same host
    /// and ports: the mapping is refreshed, not doubled). Only these are asked again on a new
    /// connection when the first gets no answer (see `Gateway::call`); AddAnyPortMapping and
    /// AddPinhole could hold a second port or pinhole, and DeletePortMappingRange a range that
    /// someone else filled meanwhile.
    pub(crate) fn is_idempotent(self) -> bool {
        !matches!(self, SoapAction::AddAnyPortMapping | SoapAction::AddPinhole | SoapAction::DeletePortMappingRange)
    }

    /// What `code` means as this action's answer.
    pub(crate) fn fault(self, code: u16) -> Fault {
        use SoapAction::*;
        match (self, code) {
            (_, 606) => Fault::NotAuthorized,
            // 714 NoSuchEntryInArray for mappings, 704 NoSuchEntry for pinholes. miniupnpd 2.3.1
            // answers 402 Invalid Args, not 704, for a pinhole id it does not hold; the id sent
            // is always well formed, so 402 there means the same.
            (DeletePortMapping | GetSpecificPortMappingEntry, 714) => Fault::Gone,
            // Past the end of the list: 713 SpecifiedArrayIndexInvalid (miniupnpd), 714 or 402 on
            // other routers.
            (GetGenericPortMappingEntry, 713 | 714 | 402) => Fault::Gone,
            (UpdatePinhole | DeletePinhole | GetPinholePackets | CheckPinholeWorking, 704 | 402) => Fault::Gone,
            (UpdatePinhole | DeletePinhole, 501) => Fault::MaybeGone,
            (AddPortMapping | AddAnyPortMapping, 718) => Fault::Taken,
            (AddPortMapping | AddAnyPortMapping, 728) => Fault::NoPorts,
            // 402 on an add: routers that refuse finite leases without knowing 725 (the caller
            // asks again with lease 0 only when its lease was finite).
            (AddPortMapping | AddAnyPortMapping, 725 | 402) => Fault::OnlyPermanent,
            (AddAnyPortMapping, 401 | 602) => Fault::NotImplemented,
            (AddPinhole, 702) => Fault::FirewallDisabled,
            (AddPinhole, 703) => Fault::PinholesNotAllowed,
            _ => Fault::Other,
        }
    }
}

impl Error {
    /// What the router's UPnP fault means for the action that got it (None: not a UPnP fault,
    /// or an action portopen does not send).
    pub fn fault(&self) -> Option<Fault> {
        let Error::Upnp(f) = self else { return None };
        SoapAction::from_name(&f.action).map(|a| a.fault(f.code))
    }

    /// True when the router says the entry is not there (see [`Fault::Gone`]).
    pub(crate) fn is_gone(&self) -> bool {
        self.fault() == Some(Fault::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::{Fault, SoapAction};
    use crate::error::{Error, UpnpFault};

    fn fault(action: &str, code: u16) -> Option<Fault> {
        Error::Upnp(UpnpFault { action: action.into(), code, description: String::new() }).fault()
    }

    #[test]
    fn names_read_back_to_their_action() {
        for &a in SoapAction::ALL {
            assert_eq!(SoapAction::from_name(a.name()), Some(a));
        }
        assert_eq!(SoapAction::from_name("Nonsense"), None);
    }

    #[test]
    fn already_gone_is_714_for_mappings_and_704_or_402_for_pinholes() {
        assert_eq!(fault("DeletePortMapping", 714), Some(Fault::Gone));
        assert_eq!(fault("GetSpecificPortMappingEntry", 714), Some(Fault::Gone));
        assert_eq!(fault("DeletePinhole", 704), Some(Fault::Gone));
        assert_eq!(fault("DeletePinhole", 402), Some(Fault::Gone));
        assert_eq!(fault("UpdatePinhole", 704), Some(Fault::Gone));
        // 402 on an add is about the lease, not about a missing entry.
        assert_eq!(fault("AddPortMapping", 402), Some(Fault::OnlyPermanent));
        assert_eq!(fault("DeletePortMapping", 402), Some(Fault::Other));
        // 501 on a pinhole id: miniupnpd 2.3.9's "no such id", or a real failure.
        assert_eq!(fault("DeletePinhole", 501), Some(Fault::MaybeGone));
        assert_eq!(fault("UpdatePinhole", 501), Some(Fault::MaybeGone));
        assert_eq!(fault("AddPinhole", 501), Some(Fault::Other));
    }

    #[test]
    fn refusals_a_user_can_act_on_have_their_meaning() {
        assert_eq!(fault("AddPortMapping", 718), Some(Fault::Taken));
        assert_eq!(fault("AddPortMapping", 725), Some(Fault::OnlyPermanent));
        assert_eq!(fault("AddAnyPortMapping", 728), Some(Fault::NoPorts));
        assert_eq!(fault("AddPinhole", 606), Some(Fault::NotAuthorized));
        assert_eq!(fault("AddPinhole", 703), Some(Fault::PinholesNotAllowed));
        assert_eq!(fault("AddPinhole", 702), Some(Fault::FirewallDisabled));
        assert_eq!(fault("AddAnyPortMapping", 602), Some(Fault::NotImplemented));
        assert_eq!(Error::Cancelled.fault(), None);
    }

    #[test]
    fn only_adds_that_could_hold_a_second_entry_are_not_repeated() {
        assert!(SoapAction::AddPortMapping.is_idempotent());
        assert!(SoapAction::UpdatePinhole.is_idempotent());
        assert!(SoapAction::DeletePinhole.is_idempotent());
        assert!(!SoapAction::AddPinhole.is_idempotent());
        assert!(!SoapAction::AddAnyPortMapping.is_idempotent());
    }
}
