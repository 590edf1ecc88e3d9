// The PortOpen runtime module: the subsystem, the Blueprint nodes and the settings, over the
// portopen library (the PortOpenLibrary external module: headers and binaries per platform).
using UnrealBuildTool;

public class PortOpen : ModuleRules
{
	public PortOpen(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "DeveloperSettings" });
		// Projects: IPluginManager, to find the plugin's Binaries folder and load the DLL from it.
		PrivateDependencyModuleNames.AddRange(new string[] { "Projects", "PortOpenLibrary" });
	}
}
