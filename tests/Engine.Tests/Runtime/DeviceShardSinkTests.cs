using ILGPU;
using ILGPU.Runtime;
using NeuronEngine.Dump;
using NeuronEngine.Runtime;
using NeuronEngine.Tests.Support;
using NeuronEngine.Forward;
using NeuronEngine.Runtime.Dump;

namespace NeuronEngine.Tests.Runtime;

/// <summary>
/// The overlapped shard sinks hand the writer exactly what each call carried, in order, even though the forward pass
/// overwrites its activation buffer right after the call (as it does with the next layer).
/// </summary>
public class DeviceShardSinkTests : IDisposable
{
    private readonly CpuAcceleratorFixture _cpu = new();

    public void Dispose() => _cpu.Dispose();

    private sealed class RecordingSink : NeuronEngine.Forward.IMlpActivationSink
    {
        public readonly List<(int Layer, long First, int Windows, float[] Values)> Calls = [];
        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations)
        {
            Thread.Sleep(5); // a slow disk: the producer must not overwrite a buffer still being written
            Calls.Add((layer, firstWindow, windows, activations.ToArray()));
        }
    }

    private static float[] Values(int call, int n) => Enumerable.Range(0, n).Select(i => call * 1000f + i).ToArray();

    [Fact]
    public void DeviceSinkWritesEveryCallsValuesAfterTheSourceIsOverwritten()
    {
        var writer = new RecordingSink();
        using var buffer = _cpu.Accelerator.Allocate1D<float>(64);
        using (var sink = new DeviceShardSink(_cpu.Accelerator, writer))
        {
            for (int call = 0; call < 7; call++)
            {
                int n = call % 2 == 0 ? 64 : 48; // sizes change: buffers are reused and regrown
                buffer.View.SubView(0, n).AsContiguous().CopyFromCPU(Values(call, n));
                sink.OnDeviceActivations(_cpu.Accelerator, call % 3, call * 2L, n / 16, 4, buffer.View.SubView(0, n));
                buffer.View.AsContiguous().CopyFromCPU(new float[64]); // the forward pass reuses the buffer for the next layer
            }
            sink.Drain();
        }
        Assert.Equal(7, writer.Calls.Count);
        for (int call = 0; call < 7; call++)
        {
            int n = call % 2 == 0 ? 64 : 48;
            Assert.Equal((call % 3, call * 2L, n / 16), (writer.Calls[call].Layer, writer.Calls[call].First, writer.Calls[call].Windows));
            Assert.Equal(Values(call, n), writer.Calls[call].Values);
        }
    }

    [Fact]
    public void HostSinkWritesEveryCallsValuesAndASinkBeforeItInTheFanOutGetsThemSynchronously()
    {
        var writer = new RecordingSink();
        var also = new RecordingSink();
        using (var sink = new OverlappedShardSink(writer))
        {
            var fanOut = new FanOutSink([also, sink]); // a corpus pass's collector, then its dump
            var source = new float[32];
            for (int call = 0; call < 5; call++)
            {
                Values(call, 32).CopyTo(source, 0);
                fanOut.OnMlpActivations(0, call, 8, 4, source);
                Assert.Equal(call + 1, also.Calls.Count); // synchronous, in order
                Array.Clear(source);
            }
            sink.Drain();
        }
        Assert.Equal(Enumerable.Range(0, 5).Select(c => Values(c, 32)), writer.Calls.Select(c => c.Values));
    }

    [Fact]
    public void WriterFailureReachesTheProducer()
    {
        using var sink = new OverlappedShardSink(new FailingSink());
        sink.OnMlpActivations(0, 0, 1, 1, [1f]);
        var e = Assert.Throws<IOException>(() => sink.Drain());
        Assert.Contains("disk full", e.Message);
    }

    private sealed class FailingSink : NeuronEngine.Forward.IMlpActivationSink
    {
        public void OnMlpActivations(int layer, long firstWindow, int windows, int seqLen, ReadOnlySpan<float> activations) =>
            throw new IOException("disk full");
    }
}
