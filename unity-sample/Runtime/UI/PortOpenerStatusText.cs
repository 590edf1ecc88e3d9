// Shows a PortOpener's status in a uGUI Text. Compiled only when com.unity.ugui is installed
// (the assembly's define constraint PORTOPEN_UGUI comes from its version define).
using UnityEngine;
using UnityEngine.UI;

namespace PortOpen.Unity
{
    /// <summary>Writes <see cref="PortOpener.Status"/> into the Text on the same GameObject.</summary>
    [AddComponentMenu("portopen/Port Opener Status (uGUI Text)")]
    [RequireComponent(typeof(Text))]
    public sealed class PortOpenerStatusText : MonoBehaviour
    {
        [Tooltip("The PortOpener to show (empty: the first one in this object's parents).")]
        [SerializeField] PortOpener source = null;
        Text target;

        void OnEnable()
        {
            target = GetComponent<Text>();
            if (source == null) source = GetComponentInParent<PortOpener>();
            if (source == null)
            {
                Debug.LogWarning("[portopen] PortOpenerStatusText: no PortOpener to show; set Source.", this);
                return;
            }
            source.StatusChanged.AddListener(Show);
            Show(source.Status);
        }

        void OnDisable()
        {
            if (source != null) source.StatusChanged.RemoveListener(Show);
        }

        void Show(string status)
        {
            target.text = status ?? "";
        }
    }
}
