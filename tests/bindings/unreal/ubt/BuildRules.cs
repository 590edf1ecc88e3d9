// Runs the plugin's Build.cs files (compiled with UnrealBuildToolStub.cs) for each platform the
// plugin supports against a plugin folder given as argv[0], and prints what each would make UBT
// link, delay-load and stage: one line per item, "<platform> <field> <value>", or
// "<platform> error <message>" for a BuildException. tests/bindings/unreal.sh checks the lines.
using System;
using System.IO;
using UnrealBuildTool;

public static class BuildRules
{
	static void Show(string Label, ReadOnlyTargetRules Target, string Plugin)
	{
		try
		{
			ModuleRules.NextPluginDirectory = Plugin;
			ModuleRules.NextModuleDirectory = Path.Combine(Plugin, "Source", "ThirdParty", "PortOpenLibrary");
			ModuleRules Library = new PortOpenLibrary(Target);
			ModuleRules.NextModuleDirectory = Path.Combine(Plugin, "Source", "PortOpen");
			ModuleRules Runtime = new PortOpen(Target);
			Print(Label, "type", Library.Type.ToString());
			foreach (string V in Library.PublicIncludePaths) Print(Label, "include", V);
			foreach (string V in Library.PublicAdditionalLibraries) Print(Label, "lib", V);
			foreach (string V in Library.PublicSystemLibraries) Print(Label, "systemlib", V);
			foreach (string V in Library.PublicDelayLoadDLLs) Print(Label, "delayload", V);
			foreach (string V in Library.PublicDefinitions) Print(Label, "define", V);
			foreach (string V in Library.RuntimeDependencies) Print(Label, "stage", V);
			foreach (string V in Runtime.PrivateDependencyModuleNames) Print(Label, "uses", V);
		}
		catch (BuildException E)
		{
			Print(Label, "error", E.Message);
		}
	}

	static void Print(string Label, string Field, string Value)
	{
		Console.WriteLine(Label + " " + Field + " " + Value);
	}

	public static int Main(string[] Args)
	{
		string Plugin = Args[0];
		Show("Win64-x64", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.Win64, Architecture = UnrealArch.X64 }, Plugin);
		Show("Win64-arm64", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.Win64, Architecture = UnrealArch.Arm64 }, Plugin);
		Show("Linux", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.Linux }, Plugin);
		Show("Mac", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.Mac, Architecture = UnrealArch.Arm64 }, Plugin);
		Show("IOS", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.IOS, Architecture = UnrealArch.Arm64 }, Plugin);
		Show("Android", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.Android, Architecture = UnrealArch.Arm64 }, Plugin);
		Show("TVOS", new ReadOnlyTargetRules { Platform = UnrealTargetPlatform.TVOS, Architecture = UnrealArch.Arm64 }, Plugin);
		return 0;
	}
}
