// The portopen native library as an External module: its headers and, per platform, the
// library files that scripts/release.sh stages under the plugin's ThirdParty/portopen:
//   include/                    portopen.h, portopen.hpp
//   lib/Win64/x64|arm64/        portopen.dll + portopen.lib (import library)
//   lib/Linux/x86_64/           libportopen.so
//   lib/Mac/                    libportopen.dylib (universal, install name @rpath/libportopen.dylib)
//   lib/IOS/                    libportopen.a
//   lib/Android/<abi>/          libportopen.a for arm64-v8a, armeabi-v7a, x86_64
using System.IO;
using UnrealBuildTool;

public class PortOpenLibrary : ModuleRules
{
	public PortOpenLibrary(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		string Root = Path.Combine(PluginDirectory, "ThirdParty", "portopen");
		PublicIncludePaths.AddRange(IncludeDirectories(Root));
		string Lib = Path.Combine(Root, "lib");

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// Delay-loaded: the game starts without the DLL, and FPortOpenModule loads it from
			// the plugin's Binaries folder at start-up, or says in the log why it cannot.
			string Arch = Target.Architecture.bIsX64 ? "x64" : "arm64";
			string Dir = Path.Combine(Lib, "Win64", Arch);
			PublicAdditionalLibraries.Add(Required(Path.Combine(Dir, "portopen.lib")));
			PublicDelayLoadDLLs.Add("portopen.dll");
			RuntimeDependencies.Add("$(PluginDir)/Binaries/ThirdParty/PortOpenLibrary/Win64/" + Arch + "/portopen.dll",
				Required(Path.Combine(Dir, "portopen.dll")));
			PublicDefinitions.Add("PORTOPEN_DELAY_LOAD=1");
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			// Linked as usual; staged in place (the engine's rpath points at its folder).
			string So = Required(Path.Combine(Lib, "Linux", "x86_64", "libportopen.so"));
			PublicAdditionalLibraries.Add(So);
			RuntimeDependencies.Add(So);
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			string Dylib = Required(Path.Combine(Lib, "Mac", "libportopen.dylib"));
			PublicAdditionalLibraries.Add(Dylib);
			RuntimeDependencies.Add(Dylib);
		}
		else if (Target.Platform == UnrealTargetPlatform.IOS)
		{
			// Static: iOS apps may not load their own dynamic libraries.
			PublicAdditionalLibraries.Add(Required(Path.Combine(Lib, "IOS", "libportopen.a")));
		}
		else if (Target.Platform == UnrealTargetPlatform.Android)
		{
			// Static, one per ABI. The Android toolchain links each architecture only with the
			// libraries whose path names it (arm64-v8a, x86_64; UE 5 no longer builds armeabi-v7a
			// and skips that folder). Rust's standard library also wants liblog and libdl.
			int Found = 0;
			foreach (string Abi in new string[] { "arm64-v8a", "armeabi-v7a", "x86_64" })
			{
				string A = Path.Combine(Lib, "Android", Abi, "libportopen.a");
				if (File.Exists(A))
				{
					PublicAdditionalLibraries.Add(A);
					Found++;
				}
			}
			if (Found == 0) Required(Path.Combine(Lib, "Android", "arm64-v8a", "libportopen.a"));
			PublicSystemLibraries.AddRange(new string[] { "log", "dl" });
		}
		else
		{
			throw new BuildException("PortOpen: no portopen library for " + Target.Platform +
				"; build a static libportopen.a with the platform's Rust target and add a branch to " + Path.GetFileName(ModuleDirectory) + ".Build.cs");
		}
	}

	/// The staged headers (scripts/release.sh); in the portopen repository itself, its own copies.
	static string[] IncludeDirectories(string Root)
	{
		string Staged = Path.Combine(Root, "include");
		if (File.Exists(Path.Combine(Staged, "portopen.h")) && File.Exists(Path.Combine(Staged, "portopen.hpp")))
		{
			return new string[] { Staged };
		}
		string Repository = Path.GetFullPath(Path.Combine(Root, "..", "..", "..", ".."));
		string Header = Path.Combine(Repository, "include");
		string Cpp = Path.Combine(Repository, "bindings", "cpp");
		if (File.Exists(Path.Combine(Header, "portopen.h")) && File.Exists(Path.Combine(Cpp, "portopen.hpp")))
		{
			return new string[] { Header, Cpp };
		}
		throw new BuildException("PortOpen: portopen.h and portopen.hpp not found in " + Staged +
			": run scripts/release.sh in the portopen repository before copying the plugin");
	}

	/// `FilePath`, or a build error that says what is missing and how to get it.
	static string Required(string FilePath)
	{
		if (!File.Exists(FilePath))
		{
			throw new BuildException("PortOpen: " + FilePath + " is missing: run scripts/release.sh in the portopen " +
				"repository (or build it for this platform as the plugin's README says)");
		}
		return FilePath;
	}
}
