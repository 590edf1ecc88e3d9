// The few UnrealBuildTool types the plugin's Build.cs files use, so that mcs can compile them
// and BuildRules.cs can run them for each platform. Shapes follow UE 5.3's UnrealBuildTool;
// nothing here is the engine's code.
using System;
using System.Collections.Generic;

namespace UnrealBuildTool
{
	public class BuildException : Exception
	{
		public BuildException(string Message) : base(Message) { }
	}

	public struct UnrealTargetPlatform
	{
		readonly string Name;
		UnrealTargetPlatform(string Name) { this.Name = Name; }
		public static readonly UnrealTargetPlatform Win64 = new UnrealTargetPlatform("Win64");
		public static readonly UnrealTargetPlatform Mac = new UnrealTargetPlatform("Mac");
		public static readonly UnrealTargetPlatform Linux = new UnrealTargetPlatform("Linux");
		public static readonly UnrealTargetPlatform IOS = new UnrealTargetPlatform("IOS");
		public static readonly UnrealTargetPlatform Android = new UnrealTargetPlatform("Android");
		public static readonly UnrealTargetPlatform TVOS = new UnrealTargetPlatform("TVOS");
		public static bool operator ==(UnrealTargetPlatform A, UnrealTargetPlatform B) { return A.Name == B.Name; }
		public static bool operator !=(UnrealTargetPlatform A, UnrealTargetPlatform B) { return A.Name != B.Name; }
		public override bool Equals(object Other) { return Other is UnrealTargetPlatform && ((UnrealTargetPlatform)Other).Name == Name; }
		public override int GetHashCode() { return Name.GetHashCode(); }
		public override string ToString() { return Name; }
	}

	public class UnrealArch
	{
		public readonly bool bIsX64;
		UnrealArch(bool bIsX64) { this.bIsX64 = bIsX64; }
		public static readonly UnrealArch X64 = new UnrealArch(true);
		public static readonly UnrealArch Arm64 = new UnrealArch(false);
	}

	public class ReadOnlyTargetRules
	{
		public UnrealTargetPlatform Platform;
		public UnrealArch Architecture = UnrealArch.X64;
	}

	public enum ModuleType { CPlusPlus, External }
	public enum PCHUsageMode { Default, NoPCHs, NoSharedPCHs, UseSharedPCHs, UseExplicitOrSharedPCHs }

	public class RuntimeDependencyList : List<string>
	{
		public void Add(string Path, string SourcePath) { Add(Path + " <- " + SourcePath); }
	}

	public class ModuleRules
	{
		/// Set by the test runner before constructing a module (UBT sets these from the .uplugin).
		[ThreadStatic] public static string NextPluginDirectory;
		[ThreadStatic] public static string NextModuleDirectory;

		public readonly ReadOnlyTargetRules Target;
		public readonly string PluginDirectory;
		public readonly string ModuleDirectory;
		public ModuleType Type = ModuleType.CPlusPlus;
		public PCHUsageMode PCHUsage = PCHUsageMode.Default;
		public List<string> PublicIncludePaths = new List<string>();
		public List<string> PrivateIncludePaths = new List<string>();
		public List<string> PublicDependencyModuleNames = new List<string>();
		public List<string> PrivateDependencyModuleNames = new List<string>();
		public List<string> PublicAdditionalLibraries = new List<string>();
		public List<string> PublicSystemLibraries = new List<string>();
		public List<string> PublicDelayLoadDLLs = new List<string>();
		public List<string> PublicDefinitions = new List<string>();
		public RuntimeDependencyList RuntimeDependencies = new RuntimeDependencyList();

		public ModuleRules(ReadOnlyTargetRules Target)
		{
			this.Target = Target;
			PluginDirectory = NextPluginDirectory;
			ModuleDirectory = NextModuleDirectory;
		}
	}
}
