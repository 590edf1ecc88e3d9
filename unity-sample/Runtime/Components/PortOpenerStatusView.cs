// Base of the components that show a PortOpener's status in a text of some UI system: they
// follow its Status Changed event while enabled and only say how to set their text.
using UnityEngine;

namespace PortOpen.Unity
{
    /// <summary>Shows <see cref="PortOpener.Status"/> while enabled; a subclass writes it into its text.</summary>
    public abstract class PortOpenerStatusView : MonoBehaviour
    {
        [Tooltip("The PortOpener to show (empty: the first one in this object's parents).")]
        [SerializeField] PortOpener source = null;

        /// <summary>The PortOpener shown.</summary>
        public PortOpener Source { get { return source; } set { source = value; } }

        /// <summary>Writes the status (never null) into the text.</summary>
        protected abstract void Show(string status);

        void OnEnable()
        {
            if (source == null) source = GetComponentInParent<PortOpener>();
            if (source == null)
            {
                Debug.LogWarning("[portopen] " + GetType().Name + ": no PortOpener to show; set Source.", this);
                return;
            }
            source.StatusChanged.AddListener(OnStatus);
            OnStatus(source.Status);
        }

        void OnDisable()
        {
            if (source != null) source.StatusChanged.RemoveListener(OnStatus);
        }

        void OnStatus(string status)
        {
            Show(status ?? "");
        }
    }
}
