using NeuronEngine.Kernels;

namespace NeuronEngine.Tests.Kernels;

public class DeviceMathTests
{
    /// <summary>
    /// DeviceMath.Exp against the double-precision exp, rounded to float: within 2 ulp of it over the normal range
    /// (it is plain float code, so the host run is the kernel's arithmetic; FMAs are exact-rounding on both).
    /// </summary>
    [Fact]
    public void ExpIsWithinTwoUlp()
    {
        (int ulps, float at) worst = (0, 0f);
        for (float x = -87f; x <= 88.7f; x += 0.00731f)
            if (Ulps(x) > worst.ulps) worst = (Ulps(x), x);
        Assert.True(worst.ulps <= 2, $"exp({worst.at:R}) is {worst.ulps} ulp off");
    }

    [Fact]
    public void ExpHandlesTheEdges()
    {
        Assert.Equal(1f, DeviceMath.Exp(0f));
        Assert.Equal(1f, DeviceMath.Exp(-0f));
        Assert.Equal(0f, DeviceMath.Exp(float.NegativeInfinity));
        Assert.Equal(0f, DeviceMath.Exp(-1000f));
        Assert.Equal(float.PositiveInfinity, DeviceMath.Exp(89f));
        Assert.Equal(float.PositiveInfinity, DeviceMath.Exp(float.PositiveInfinity));
        Assert.True(float.IsNaN(DeviceMath.Exp(float.NaN)));
        Assert.True(Ulps(88.72283f) <= 2);                                             // k = 128: no overflow below ln(max)
        float sub = DeviceMath.Exp(-100f);                                             // subnormal (3.7e-44)
        Assert.InRange(sub, 3.6e-44f, 3.8e-44f);
        Assert.True(Ulps(-87.3f) <= 2);                                                // just above the subnormals
    }

    private static int Ulps(float x) =>
        Math.Abs(BitConverter.SingleToInt32Bits(DeviceMath.Exp(x)) - BitConverter.SingleToInt32Bits((float)Math.Exp(x)));
}
