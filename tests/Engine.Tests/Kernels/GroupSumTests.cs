using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Kernels;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;

namespace NeuronEngine.Tests.Kernels;

/// <summary>
/// The group sums of <see cref="IGroupSum"/>: every thread gets the pairwise sum of the group's values in thread order
/// (adjacent pairs first, zero-padded to a power of two), bit for bit, whether by warp shuffles or through the
/// shared-memory tree, for any group size the implementation allows. The values span eight decades with both signs, so
/// a sum in any other order differs in the low bits (checked: the sequential sum differs for the larger groups).
/// </summary>
public abstract class GroupSumChecks(IAcceleratorFixture fx)
{
    protected Accelerator Accelerator => fx.Accelerator;

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(12)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(128)]
    [InlineData(256)]
    public void TheTreeSumsPairwiseInThreadOrder(int groupSize) => Check<SharedTreeSum>(Accelerator, groupSize);

    internal static void Check<TSum>(Accelerator accelerator, int groupSize) where TSum : struct, IGroupSum
    {
        const int groups = 3;
        var rng = new Random(groupSize);
        float[] values = Enumerable.Range(0, groups * groupSize)
            .Select(_ => (rng.NextSingle() - 0.3f) * MathF.Pow(10, rng.Next(-4, 4))).ToArray();
        var kernel = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>>(SumKernel<TSum>);
        using var input = accelerator.Allocate1D(values);
        using var output = accelerator.Allocate1D<float>(values.Length);
        kernel((groups, groupSize), input.View, output.View);
        float[] sums = output.GetAsArray1D();
        for (int g = 0; g < groups; g++)
        {
            float expected = Pairwise(values.AsSpan(g * groupSize, groupSize));
            for (int t = 0; t < groupSize; t++)
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(sums[g * groupSize + t]),
                    $"group {g} thread {t}: {sums[g * groupSize + t]:R}, pairwise {expected:R}");
        }
        if (groupSize >= 64)
            Assert.Contains(Enumerable.Range(0, groups), g => Sequential(values.AsSpan(g * groupSize, groupSize)) != sums[g * groupSize]);
    }

    private static void SumKernel<TSum>(ArrayView<float> values, ArrayView<float> sums) where TSum : struct, IGroupSum
    {
        var scratch = SharedMemory.Allocate<float>(default(TSum).ScratchFloats);
        int i = Grid.GlobalIndex.X;
        sums[i] = default(TSum).Sum(values[i], scratch);
    }

    /// <summary>The definition, on the host in float: level by level, adjacent pairs first, zeros past the values.</summary>
    private static float Pairwise(ReadOnlySpan<float> values)
    {
        var level = values.ToArray().ToList();
        while (level.Count > 1)
        {
            if (level.Count % 2 == 1) level.Add(0f);
            level = Enumerable.Range(0, level.Count / 2).Select(j => level[2 * j] + level[2 * j + 1]).ToList();
        }
        return level[0];
    }

    private static float Sequential(ReadOnlySpan<float> values)
    {
        float sum = 0;
        foreach (float v in values) sum += v;
        return sum;
    }
}

/// <summary>On ILGPU's CPU accelerator: both implementations, with 4-lane warps (folded in several levels) and 32-lane ones.</summary>
public sealed class GroupSumTests(CpuAcceleratorFixture fx) : GroupSumChecks(fx), IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(20)]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]
    public void WarpShufflesSumPairwiseInThreadOrder(int groupSize) => Check<WarpShuffleSum>(Accelerator, groupSize);

    [Theory]
    [InlineData(32)]
    [InlineData(96)]
    [InlineData(256)]
    public void ThirtyTwoLaneWarpsSumPairwiseInThreadOrder(int groupSize)
    {
        var (context, accelerator) = IlgpuContexts.CreateCpu(32, 8);
        using (context)
        using (accelerator)
        {
            Check<WarpShuffleSum>(accelerator, groupSize);
            Check<SharedTreeSum>(accelerator, groupSize);
        }
    }
}

/// <summary>On the OpenCL device (pocl in CI): the tree, the only group sum OpenCL runs.</summary>
[Trait(OpenClDevice.Trait, OpenClDevice.TraitValue)]
public sealed class GroupSumOpenClTests(OpenClAcceleratorFixture fx) : GroupSumChecks(fx), IClassFixture<OpenClAcceleratorFixture>;
