namespace NeuronEngine.Kernels;

/// <summary>How weights are stored on the device: float32, IEEE half, or bfloat16 (raw 16-bit patterns).</summary>
public enum WeightFormat { F32 = 0, F16 = 1, BF16 = 2 }
