// Stub of com.unity.ugui's assembly (UnityEngine.UI) as far as the package uses it.
namespace UnityEngine.UI
{
    public class Graphic : MonoBehaviour { }

    public class MaskableGraphic : Graphic { }

    public class Text : MaskableGraphic
    {
        public virtual string text { get; set; }
    }
}
