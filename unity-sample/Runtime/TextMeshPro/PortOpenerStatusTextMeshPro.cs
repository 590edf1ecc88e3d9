// Shows a PortOpener's status in a TextMeshPro text. Compiled only when TextMeshPro is installed
// (com.unity.textmeshpro, or com.unity.ugui 2.0 and later, which contains it): the assembly's
// define constraint PORTOPEN_TMP comes from its version defines.
using TMPro;
using UnityEngine;

namespace PortOpen.Unity
{
    /// <summary>Writes <see cref="PortOpener.Status"/> into the TMP_Text on the same GameObject.</summary>
    [AddComponentMenu("portopen/Port Opener Status (TextMeshPro)")]
    [RequireComponent(typeof(TMP_Text))]
    public sealed class PortOpenerStatusTextMeshPro : PortOpenerStatusView
    {
        protected override void Show(string status)
        {
            GetComponent<TMP_Text>().text = status;
        }
    }
}
