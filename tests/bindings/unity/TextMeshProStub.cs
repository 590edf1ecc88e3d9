// Stub of TextMeshPro's assembly (Unity.TextMeshPro: com.unity.textmeshpro, or com.unity.ugui
// 2.0 and later) as far as the package uses it.
namespace TMPro
{
    public abstract class TMP_Text : UnityEngine.MonoBehaviour
    {
        public virtual string text { get; set; }
    }
}
