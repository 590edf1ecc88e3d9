// What PortOpener reports: each family's outcome (FamilyResult) and the whole attempt
// (PortOpenResult), as plain objects a UnityEvent can carry and a UI can print.
using System;
using System.Net;
using UnityEngine.Events;

namespace PortOpen.Unity
{
    /// <summary>One family (IPv6 pinhole or IPv4 port mapping) at one moment.</summary>
    public sealed class FamilyResult
    {
        /// <summary>A result made by the component (no lease yet: no router, library missing).</summary>
        public FamilyResult(IpFamily family, PortStatus status, string message)
        {
            Family = family;
            Status = status;
            Message = message ?? "";
        }

        internal FamilyResult(FamilyState state)
            : this(state.Family, state.Status, state.Message)
        {
            External = state.IsOpen ? state.External.ToEndPoint() : null;
            UpnpCode = state.UpnpCode;
        }

        /// <summary>V6 (pinhole) or V4 (port mapping).</summary>
        public IpFamily Family { get; private set; }

        /// <summary>Where it stands.</summary>
        public PortStatus Status { get; internal set; }

        /// <summary>True when peers can reach the port over this family: advertise <see cref="External"/>.</summary>
        public bool IsOpen { get { return Status == PortStatus.Open || Status == PortStatus.OpenAlready; } }

        /// <summary>What peers send to while open (IPv6: this device's own address), else null.</summary>
        public IPEndPoint External { get; internal set; }

        /// <summary>The router's UPnP error code behind a refusal, 0 when none.</summary>
        public int UpnpCode { get; private set; }

        /// <summary>Why it is in this state, in words ("" when open without remark).</summary>
        public string Message { get; internal set; }

        /// <summary>"IPv6" or "IPv4".</summary>
        public string FamilyName { get { return Family == IpFamily.V6 ? "IPv6" : "IPv4"; } }

        /// <summary>One line for a player: "IPv6: open - peers connect to [2001:db8::5]:7777".</summary>
        public override string ToString()
        {
            switch (Status)
            {
                case PortStatus.Open:
                    return FamilyName + ": open - peers connect to " + External;
                case PortStatus.OpenAlready:
                    return FamilyName + ": reachable (the router's firewall is off) - peers connect to " + External;
                case PortStatus.NotRequested:
                    return FamilyName + ": not tried";
                case PortStatus.NotAllowed:
                    return FamilyName + ": the router does not allow pinholes - the player can enable them in its settings";
                default:
                    return Message.Length == 0 ? FamilyName + ": " + Status : FamilyName + ": " + Status + " - " + Message;
            }
        }
    }

    /// <summary>An attempt to open the port: both families, or why nothing was tried.</summary>
    public sealed class PortOpenResult
    {
        internal PortOpenResult(FamilyResult v6, FamilyResult v4, string error)
        {
            V6 = v6;
            V4 = v4;
            Error = error;
        }

        /// <summary>The IPv6 pinhole.</summary>
        public FamilyResult V6 { get; private set; }

        /// <summary>The IPv4 port mapping.</summary>
        public FamilyResult V4 { get; private set; }

        /// <summary>
        /// Why nothing could be tried (the native library is missing or of another version, a bad
        /// setting), else null: then V6 and V4 say how each family went.
        /// </summary>
        public string Error { get; private set; }

        /// <summary>True when at least one family is open.</summary>
        public bool IsOpen { get { return V6.IsOpen || V4.IsOpen; } }

        /// <summary>The family's result.</summary>
        public FamilyResult Get(IpFamily family)
        {
            return family == IpFamily.V6 ? V6 : V4;
        }

        /// <summary>For logs: the error, or both families.</summary>
        public override string ToString()
        {
            return Error ?? V6 + "; " + V4;
        }
    }

    /// <summary>A UnityEvent with the whole result (opened, failed, closed).</summary>
    [Serializable]
    public sealed class PortOpenResultEvent : UnityEvent<PortOpenResult> { }

    /// <summary>A UnityEvent with one family's result (lost, recovered).</summary>
    [Serializable]
    public sealed class FamilyResultEvent : UnityEvent<FamilyResult> { }

    /// <summary>A UnityEvent with the status text (for a Text or TMP_Text's <c>text</c>).</summary>
    [Serializable]
    public sealed class StatusTextEvent : UnityEvent<string> { }
}
