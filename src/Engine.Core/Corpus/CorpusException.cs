namespace NeuronEngine.Corpus;

/// <summary>
/// A corpus that cannot be read as asked. The message is one line naming the file and what is wrong
/// with it, fit to show the user as it is.
/// </summary>
public sealed class CorpusException : Exception
{
    public CorpusException(string message)
        : base(message)
    {
    }

    public CorpusException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
