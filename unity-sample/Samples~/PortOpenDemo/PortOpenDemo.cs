// The demo: a PortOpener and a panel (IMGUI, no UI package needed) showing the router found over
// each family, its grade, each family's outcome and every lost/recovered event, with Open and
// Close buttons as a game's "Host" and "Stop hosting" would have.
using System.Collections.Generic;
using System.Text;
using PortOpen.Unity;
using UnityEngine;

namespace PortOpen.Samples
{
    /// <summary>Listens to a <see cref="PortOpener"/>'s events and shows where it stands.</summary>
    public sealed class PortOpenDemo : MonoBehaviour
    {
        const int EventLines = 8;

        [Tooltip("The PortOpener to show (empty: the one on this GameObject).")]
        [SerializeField] PortOpener opener = null;

        readonly Queue<string> events = new Queue<string>();
        readonly StringBuilder panel = new StringBuilder();
        string panelText = "";
        Vector2 scroll;

        void Awake()
        {
            if (opener == null) opener = GetComponent<PortOpener>();
            opener.ShowOverlay = false; // this panel shows the same and more
        }

        void OnEnable()
        {
            opener.Opened.AddListener(OnOpened);
            opener.Lost.AddListener(OnLost);
            opener.Recovered.AddListener(OnRecovered);
            opener.Failed.AddListener(OnFailed);
            opener.Closed.AddListener(OnClosed);
            opener.StatusChanged.AddListener(OnStatus);
            Refresh();
        }

        void OnDisable()
        {
            opener.Opened.RemoveListener(OnOpened);
            opener.Lost.RemoveListener(OnLost);
            opener.Recovered.RemoveListener(OnRecovered);
            opener.Failed.RemoveListener(OnFailed);
            opener.Closed.RemoveListener(OnClosed);
            opener.StatusChanged.RemoveListener(OnStatus);
        }

        void OnOpened(PortOpenResult result) { AddEvent("Opened: " + result); }

        void OnLost(FamilyResult family) { AddEvent("Lost: " + family + " - stop advertising it"); }

        void OnRecovered(FamilyResult family) { AddEvent("Recovered: " + family + " - advertise it again"); }

        void OnFailed(PortOpenResult result) { AddEvent("Failed: " + result); }

        void OnClosed(PortOpenResult result) { AddEvent("Closed"); }

        void OnStatus(string status) { Refresh(); }

        void AddEvent(string line)
        {
            events.Enqueue(System.DateTime.Now.ToString("HH:mm:ss ") + line);
            while (events.Count > EventLines) events.Dequeue();
            Refresh();
        }

        // Rebuilt when something changes, not every frame.
        void Refresh()
        {
            panel.Length = 0;
            panel.AppendFormat("portopen demo - {0} port {1} - {2}\n\n", opener.Protocol, opener.Port, opener.State);
            panel.Append("Router over IPv6: ").AppendLine(Describe(opener.RouterV6));
            panel.Append("Router over IPv4: ").AppendLine(Describe(opener.RouterV4));
            panel.Append("Router grade: ").AppendLine(opener.Grade.HasValue ? PortOpener.GradeText(opener.Grade.Value) : "not known yet");
            panel.Append("Router opens: ").AppendLine(opener.Check != null ? PortOpener.OpensText(opener.Check) : "not known yet");
            panel.AppendLine();
            PortOpenResult result = opener.Result;
            if (result == null) panel.AppendLine("Not opened yet.");
            else
            {
                if (result.Error != null) panel.Append("ERROR: ").AppendLine(result.Error);
                panel.AppendLine(result.V6.ToString());
                panel.AppendLine(result.V4.ToString());
            }
            panel.AppendLine().AppendLine("Events:");
            foreach (string e in events) panel.AppendLine(e);
            panel.AppendLine().AppendLine("Steps:").Append(opener.Status);
            panelText = panel.ToString();
        }

        static string Describe(Gateway router)
        {
            return router == null ? "none found (yet)" : router.Location + " " + router.Server;
        }

        void OnGUI()
        {
            GUILayout.BeginArea(new Rect(10, 10, Screen.width - 20, Screen.height - 20));
            GUILayout.BeginHorizontal();
            if (GUILayout.Button("Open port", GUILayout.Width(140))) opener.OpenAsync();
            if (GUILayout.Button("Close port", GUILayout.Width(140))) opener.CloseAsync();
            GUILayout.EndHorizontal();
            scroll = GUILayout.BeginScrollView(scroll);
            GUILayout.Label(panelText);
            GUILayout.EndScrollView();
            GUILayout.EndArea();
        }
    }
}
