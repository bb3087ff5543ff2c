using NeuronEngine.Runtime;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// The published peaks `engine bench` divides by, looked up by the name the driver reports. Expected figures are the
/// data sheets' (NVIDIA; tensor figures dense, i.e. half the "with sparsity" ones), written here by hand.
/// </summary>
public class DevicePeaksTests
{
    [Theory]
    // name as the driver reports it                fp32   TF32    bf16
    [InlineData("NVIDIA H100 80GB HBM3", 66.9, 494.7, 989.4)]     // H100 SXM5: before the fix it got the PCIe figures
    [InlineData("NVIDIA H100 SXM5 94GB", 66.9, 494.7, 989.4)]
    [InlineData("NVIDIA H100 PCIe", 51.2, 378.0, 756.0)]
    [InlineData("NVIDIA H100 NVL", 60.0, 417.5, 835.5)]
    [InlineData("NVIDIA H200", 66.9, 494.7, 989.4)]
    [InlineData("NVIDIA H200 NVL", 60.0, 417.5, 835.5)]
    [InlineData("NVIDIA GH200 480GB", 66.9, 494.7, 989.4)]
    [InlineData("NVIDIA A100-SXM4-80GB", 19.5, 156.0, 312.0)]
    [InlineData("NVIDIA A100 80GB PCIe", 19.5, 156.0, 312.0)]
    [InlineData("NVIDIA L40S", 91.6, 183.0, 362.1)]
    [InlineData("NVIDIA L40", 90.5, 90.5, 181.0)]                  // not the L4's figures
    [InlineData("NVIDIA L4", 30.3, 60.0, 121.0)]
    [InlineData("NVIDIA A10", 31.2, 62.5, 125.0)]
    public void KnownNamesGetTheirDataSheetPeaks(string name, double fp32, double tf32, double bf16)
    {
        var peaks = DevicePeaks.ForName(name);
        Assert.NotNull(peaks);
        Assert.Equal(fp32, peaks.Fp32);
        Assert.Equal(tf32, peaks.Tf32);
        Assert.Equal(bf16, peaks.Bf16);
    }

    [Theory]
    [InlineData("Tesla V100-SXM2-16GB", 15.7)]
    [InlineData("Tesla T4", 8.1)]
    [InlineData("NVIDIA GeForce RTX 4090", 82.6)]
    [InlineData("NVIDIA A10G", 31.2)]
    public void OlderOrConsumerPartsHaveAnFp32PeakOnly(string name, double fp32)
    {
        var peaks = DevicePeaks.ForName(name);
        Assert.NotNull(peaks);
        Assert.Equal(fp32, peaks.Fp32);
        Assert.Null(peaks.Tf32);
        Assert.Null(peaks.Bf16);
    }

    [Theory]
    [InlineData("NVIDIA B200")]
    [InlineData("CPUAccelerator")]
    [InlineData("")]
    public void UnknownNamesHaveNoPeak(string name) => Assert.Null(DevicePeaks.ForName(name));

    /// <summary>
    /// The fallback for names not in the table: SMs × fp32 lanes × 2 × boost clock must give the data sheets' fp32
    /// figures from the devices' published SM counts and clocks (to the data sheets' 0.1 TFLOP/s rounding).
    /// </summary>
    [Theory]
    [InlineData(132, 1_980_000, 9, 0, 66.9)]   // H100 SXM5
    [InlineData(114, 1_755_000, 9, 0, 51.2)]   // H100 PCIe
    [InlineData(108, 1_410_000, 8, 0, 19.5)]   // A100 (GA100: 64 lanes per SM)
    [InlineData(128, 2_520_000, 8, 9, 82.6)]   // RTX 4090 (Ada: 128)
    [InlineData(80, 1_530_000, 7, 0, 15.7)]    // V100 SXM2
    public void Fp32FromTheClockMatchesTheDataSheets(int sms, int clockKiloHertz, int major, int minor, double dataSheet)
    {
        double? fp32 = DevicePeaks.Fp32FromClock(sms, clockKiloHertz, major, minor);
        Assert.NotNull(fp32);
        Assert.True(Math.Abs(fp32.Value - dataSheet) < 0.06, $"{fp32} vs the data sheet's {dataSheet}");
    }

    [Fact]
    public void Fp32FromTheClockIsUnknownForUnlistedArchitectures()
    {
        Assert.Null(DevicePeaks.Fp32FromClock(148, 1_965_000, 10, 0));
        Assert.Null(DevicePeaks.Fp32FromClock(0, 1_980_000, 9, 0));
    }
}
