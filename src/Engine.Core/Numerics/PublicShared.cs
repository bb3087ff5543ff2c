namespace NeuronEngine.Numerics;

// The shared arithmetic (kernels/Engine.Kernels/Shared, linked into this assembly) declares its types without an access
// modifier, so they are internal in the kernels. The ones other projects use are made public here, in Core only: a
// project that references both assemblies then sees exactly one of each.

public static partial class RecordKeys;
