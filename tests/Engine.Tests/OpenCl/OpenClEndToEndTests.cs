using NeuronEngine.Connections;
using NeuronEngine.Related;
using NeuronEngine.Tests.Connections;
using NeuronEngine.Tests.Dump;
using NeuronEngine.Tests.Records;
using NeuronEngine.Tests.Related;
using NeuronEngine.Tests.Scoring;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.OpenCl;

// The commands end to end with --device opencl (pocl in CI: scripts/opencl-tests.sh), each the same check, with the same
// tolerance, as its ilgpu-cpu twin in the test class named. Skipped with the reason where there is no OpenCL device.

/// <summary>`engine dump` (an F16 model: the integer half decode) against `cpu` ≤ 1e-4; `engine score` against the host scorer's values.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public class OpenClDumpAndScoreTests
{
    [Fact]
    public void DumpMatchesTheCpuDump()
    {
        OpenClDevice.Require();
        using var dump = new DumpTests();
        dump.DumpMatchesTheCpuDump("opencl");
    }

    [Fact]
    public void ScoreRescoresAsTheHostScorer()
    {
        OpenClDevice.Require();
        new ScoreCommandTests().RescoresSummarisesAndListsFailures("opencl", writeResults: true);
    }
}

/// <summary>`engine records` against brute force over an OpenCL dump; records + dump in one pass; the device collector against the managed one.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public class OpenClRecordsTests(RecordsFixture f, OpenClAcceleratorFixture fx) : IClassFixture<RecordsFixture>, IClassFixture<OpenClAcceleratorFixture>
{
    [Fact]
    public void RecordsEqualBruteForceOverAnOpenClDump()
    {
        OpenClDevice.Require();
        DeviceRecordCollectorTests.RecordsEqualBruteForceOverADump(f, "opencl");
    }

    [Fact]
    public void OnePassEqualsSeparateDumpAndRecords()
    {
        OpenClDevice.Require();
        new RecordsWithDumpTests(f).OnePassEqualsSeparateDumpAndRecords("opencl", 8, "0,2");
    }

    [Fact]
    public void DeviceCollectorEqualsTheCpuCollector() => DeviceRecordCollectorTests.DeviceCollectorEqualsTheCpuCollector(fx.Accelerator);
}

/// <summary>`related`'s kernels against the float64 brute force and the `cpu` device's lists.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public class OpenClRelatedTests(RelatedFixture f, ITestOutputHelper output) : IClassFixture<RelatedFixture>
{
    [Theory]
    [InlineData(RelatedDefinition.OpenAi, false, 3)]
    [InlineData(RelatedDefinition.DirectPath, true, 1)]
    public void KernelsMatchFloat64BruteForce(RelatedDefinition definition, bool withWpe0, int segments) =>
        new RelatedTests(f, output).KernelsMatchFloat64BruteForce("opencl", definition, withWpe0, segments);
}

/// <summary>`connections`' kernels against the brute force over all neuron pairs and the `cpu` device's lists.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public class OpenClConnectionsTests(ConnectionsFixture f, ITestOutputHelper output) : IClassFixture<ConnectionsFixture>
{
    [Fact]
    public void KernelsGiveTheBruteForceLists() => new ConnectionsTests(f, output).KernelsAndEveryChunkingGiveTheSameLists("opencl", 3);
}
