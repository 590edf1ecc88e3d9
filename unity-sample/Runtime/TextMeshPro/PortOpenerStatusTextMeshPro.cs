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
    public sealed class PortOpenerStatusTextMeshPro : MonoBehaviour
    {
        [Tooltip("The PortOpener to show (empty: the first one in this object's parents).")]
        [SerializeField] PortOpener source = null;
        TMP_Text target;

        void OnEnable()
        {
            target = GetComponent<TMP_Text>();
            if (source == null) source = GetComponentInParent<PortOpener>();
            if (source == null)
            {
                Debug.LogWarning("[portopen] PortOpenerStatusTextMeshPro: no PortOpener to show; set Source.", this);
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
