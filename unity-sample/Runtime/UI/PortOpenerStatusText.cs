// Shows a PortOpener's status in a uGUI Text. Compiled only when com.unity.ugui is installed
// (the assembly's define constraint PORTOPEN_UGUI comes from its version define).
using UnityEngine;
using UnityEngine.UI;

namespace PortOpen.Unity
{
    /// <summary>Writes <see cref="PortOpener.Status"/> into the Text on the same GameObject.</summary>
    [AddComponentMenu("portopen/Port Opener Status (uGUI Text)")]
    [RequireComponent(typeof(Text))]
    public sealed class PortOpenerStatusText : PortOpenerStatusView
    {
        protected override void Show(string status)
        {
            GetComponent<Text>().text = status;
        }
    }
}
