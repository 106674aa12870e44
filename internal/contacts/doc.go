// Package contacts models the contact lists ("homed resources") of OCS and Skype for Business
// users and reads and writes them in the dbimpexp XML, DocItemSet and Export-CsUserData ZIP forms.
package contacts
