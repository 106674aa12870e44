package winrm

// Windows behaviour the transport relies on, and its evidence.
//
// Terminating a cancelled command (Pool.execute): a Signal with code
// http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate ends the command's
// process, and the server answers a Receive blocked on it with CommandState Done (MS-WSMV 3.1.4.14
// Signal and 3.1.4.14.2 Receive, https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/;
// Signal may arrive while a Receive is outstanding, as masterzen/winrm and pywinrm send it). That
// a blocked Receive answers at once is [inferred]: no recording shows it. The transport does not
// rely on it for safety: it waits at most Options.CancelWait for the command's end, and says
// "it may still be running" when the server did not confirm it; the shell is deleted in any case
// (Delete kills every command of the shell, MS-WSMV 3.1.4.11).
