// The PortOpen module: Unreal glue over bindings/cpp/portopen.hpp and the portopen native
// library, staged under ThirdParty/portopen (see README.md for building it per platform).
using System.IO;
using UnrealBuildTool;

public class PortOpen : ModuleRules
{
	public PortOpen(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine" });

		// portopen.h and portopen.hpp: only the Private sources include them.
		string Root = Path.Combine(PluginDirectory, "ThirdParty", "portopen");
		PrivateIncludePaths.Add(Path.Combine(Root, "include"));
		string Lib = Path.Combine(Root, "lib", Target.Platform.ToString());

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// Shared library: link the import library, ship the DLL next to the module binary
			// (the module manager adds that directory to the DLL search path while loading).
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "portopen.dll.lib"));
			RuntimeDependencies.Add("$(BinaryOutputDir)/portopen.dll", Path.Combine(Lib, "portopen.dll"));
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "libportopen.so"));
			RuntimeDependencies.Add("$(BinaryOutputDir)/libportopen.so", Path.Combine(Lib, "libportopen.so"));
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			// The dylib's install name must be @rpath/libportopen.dylib (README.md).
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "libportopen.dylib"));
			RuntimeDependencies.Add("$(BinaryOutputDir)/libportopen.dylib", Path.Combine(Lib, "libportopen.dylib"));
		}
		else if (Target.Platform == UnrealTargetPlatform.IOS)
		{
			// No dynamic loading on iOS: the static library (libportopen.a, arm64).
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "libportopen.a"));
		}
		else if (Target.Platform == UnrealTargetPlatform.Android)
		{
			// Static, per ABI; Rust's std also wants liblog and libdl (native-static-libs).
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "arm64-v8a", "libportopen.a"));
			PublicSystemLibraries.AddRange(new string[] { "log", "dl" });
		}
		else
		{
			// Consoles and other platforms: a static library built with the platform's Rust
			// target, placed in lib/<Platform>/ (name it as that platform's linker expects).
			PublicAdditionalLibraries.Add(Path.Combine(Lib, "libportopen.a"));
		}
	}
}
