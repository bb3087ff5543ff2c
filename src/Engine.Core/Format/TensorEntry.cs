namespace NeuronEngine.Format;

/// <summary>One tensor of a safetensors header; Begin/End are byte offsets relative to the end of the header.</summary>
public sealed record TensorEntry(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
    public long ByteLength => End - Begin;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
